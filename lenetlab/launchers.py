"""Sweeps on Hydra's launchers (joblib, submitit): each parallel job gets its share of the cores."""

from __future__ import annotations

import logging
import os

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, read_write

from lenetlab.validation import sweep_jobs

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a SLURM or container limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ShareCores(Callback):
    """Hydra callback: size a local parallel launcher to the sweep so that jobs x threads <= cores.

    joblib: at most one worker per job (its workers then get ``cores // workers`` threads through
    ``OMP_NUM_THREADS``, which joblib sets); submitit_local: ``cpus_per_task`` defaults to the cores
    divided among the jobs. SLURM jobs use the ``cpus_per_task`` the user asks for.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        launcher = config.hydra.launcher
        target = launcher.get("_target_", "")
        if not target.endswith(("JoblibLauncher", "LocalLauncher")) or not config.hydra.sweeper._target_.endswith(
            "BasicSweeper"
        ):
            return
        jobs, cores = len(sweep_jobs(config)), available_cores()
        with read_write(launcher):
            if target.endswith("JoblibLauncher"):
                n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else cores + 1 + launcher.n_jobs  # -1: all cores
                launcher.n_jobs = max(1, min(n_jobs, jobs))
            elif launcher.cpus_per_task is None:
                launcher.cpus_per_task = max(1, cores // max(1, min(jobs, launcher.get("array_parallelism", jobs))))


def set_job_threads() -> int:
    """Give torch the threads this job's launcher allotted it (``cpus_per_task``, or joblib's ``OMP_NUM_THREADS``)."""
    launcher = HydraConfig.get().launcher if HydraConfig.initialized() else {}
    threads = launcher.get("cpus_per_task")
    if not threads and "Joblib" in launcher.get("_target_", ""):
        threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()
