"""Refuse a start before anything is written: the output directory, the data files and every value of the config."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.experimental.callback import Callback
from hydra.utils import get_class
from omegaconf import DictConfig

from lenetlab.config import ConfigError, refuse
from lenetlab.config.sweeps import job_configs
from lenetlab.config.validation import BAD_INPUT, require, validate
from lenetlab.data.idx import IMAGES_MAGIC, check_idx_file
from lenetlab.data.mnist import MNISTDataModule, default_data_root, ensure_mnist
from lenetlab.models.safe_checkpoint import read_checkpoint
from lenetlab.run.checkpoints import LAST_CHECKPOINT, resume_checkpoint
from lenetlab.run.resume import choose_output_dir
from lenetlab.run.status import job_dirs


def check_output_dir(out: str | Path) -> None:
    """Refuse an output directory that cannot be created or written."""
    out = Path(out)
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError(
            f"output directory {str(out)!r} cannot be written: {parent} is not a writable directory "
            "(choose another with hydra.run.dir / hydra.sweep.dir)"
        )


def _is_mnist(target) -> bool:
    try:
        return get_class(str(target)) is MNISTDataModule
    except (ImportError, ValueError):  # not a class: instantiating the datamodule reports it
        return False


def check_data(cfg: DictConfig) -> None:
    """Check the MNIST files' headers and sizes (downloading them first if missing and allowed)."""
    if not _is_mnist(cfg.data.get("_target_")):  # another dataset checks its own files
        return
    root = Path(cfg.data.root) if cfg.data.get("root") else default_data_root()
    raw = ensure_mnist(root, cfg.data.get("download", True))  # downloads, or names what is missing or corrupt
    n = check_idx_file(raw / "train-images-idx3-ubyte", IMAGES_MAGIC)[0]
    val_size = cfg.data.get("val_size", 5000)
    ok = isinstance(val_size, int) and 0 < val_size < n
    require(ok, "data.val_size", val_size, f"an integer from 1 to {n - 1} (the training images held out)")


class StartChecks(Callback):
    """Hydra callback: choose the directory to resume, then refuse bad input before anything is written.

    Runs before Hydra creates the run (sweep) directory, so a refused start leaves nothing behind
    and changes nothing in an existing one.
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            out = choose_output_dir(config, multirun=False)
            resuming = config.get("resume") or config.get("ckpt_path")
            if not resuming and (out / ".hydra").is_dir():
                raise ConfigError(
                    f"hydra.run.dir={str(out)!r} already holds a run: add resume=true to continue it, "
                    "or choose another directory"
                )
            validate(config)
            if checkpoint := resume_checkpoint(config, out):
                read_checkpoint(checkpoint)  # read as data: a file holding pickled code is refused here
            check_output_dir(out)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            sweep_dir = choose_output_dir(config, multirun=True)
            if not config.get("resume") and job_dirs(sweep_dir):
                raise ConfigError(
                    f"hydra.sweep.dir={str(sweep_dir)!r} already holds a sweep: add resume=true to continue it "
                    "(finished jobs are skipped), or choose another directory"
                )
            if config.hydra.sweeper._target_.endswith("BasicSweeper"):
                for job_config in job_configs(config):
                    validate(job_config, check_devices=False)
            else:
                validate(config, check_devices=False)
                resumed = [job / LAST_CHECKPOINT for job in job_dirs(sweep_dir)] if config.get("resume") else []
            for checkpoint in [config.get("ckpt_path"), *resumed]:
                if checkpoint and Path(checkpoint).is_file():
                    read_checkpoint(checkpoint)
            check_output_dir(sweep_dir)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)
