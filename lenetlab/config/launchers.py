"""Sweeps on Hydra's launchers (joblib, submitit): each parallel job gets its share of the cores."""

from __future__ import annotations

import logging
import os

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, read_write

from lenetlab.config.sweeps import sweep_jobs

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, e.g. a SLURM or container limit)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class ShareCores(Callback):
    """Hydra callback: size a local parallel launcher to the sweep so that jobs x threads <= cores.

    joblib: at most one worker per job; joblib then gives each worker ``cores // workers`` threads
    through ``OMP_NUM_THREADS``. submitit_local: each job gets ``cpus_per_task`` threads, by default
    the cores divided among the jobs. SLURM jobs use the ``cpus_per_task`` the user asks for.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        launcher, sweeper = config.hydra.launcher, config.hydra.sweeper
        target = launcher.get("_target_", "")
        if not target.endswith(("JoblibLauncher", "LocalLauncher")) or not sweeper._target_.endswith("BasicSweeper"):
            return
        jobs, cores = len(sweep_jobs(config)), available_cores()
        if target.endswith("JoblibLauncher"):
            n_jobs = launcher.n_jobs if launcher.n_jobs > 0 else cores + 1 + launcher.n_jobs  # -1: all cores
            with read_write(launcher):
                launcher.n_jobs = max(1, min(n_jobs, jobs))
        else:  # submitit's local executor ignores cpus_per_task: pass it on to the job processes
            threads = launcher.cpus_per_task or cores // max(1, min(jobs, launcher.get("array_parallelism", jobs)))
            os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))


def set_job_threads() -> int:
    """Give torch the threads this job was allotted (SLURM's cpus per task, or ``OMP_NUM_THREADS``); return them."""
    import torch

    threads = os.environ.get("SLURM_CPUS_PER_TASK") or os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    log.info(
        "%d threads", torch.get_num_threads()
    )  # to the job's log file (lenetlab/conf/train.yaml: hydra.job_logging)
    return torch.get_num_threads()
