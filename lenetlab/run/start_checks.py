"""The one start check of every command: refuse bad input before anything is written.

The output directory, the data files and every value of the config: lenetlab's own keys
(:func:`lenetlab.config.validation.validate`), and each part of the run (network, datamodule, ``Classifier``,
callbacks) made by its constructor, which refuses its own bad arguments with a ValueError naming them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hydra.errors import InstantiationException
from hydra.experimental.callback import Callback
from hydra.utils import get_class, get_method, instantiate
from omegaconf import DictConfig

from lenetlab.config import ConfigError, refuse
from lenetlab.config.bad_input import BAD_INPUT
from lenetlab.config.sweeps import job_configs
from lenetlab.config.validation import require, validate
from lenetlab.data.idx import IMAGES_MAGIC, check_idx_file
from lenetlab.data.mnist import MNISTDataModule, default_data_root, ensure_mnist
from lenetlab.models.classifier import Classifier
from lenetlab.models.safe_checkpoint import read_checkpoint
from lenetlab.run.resume import LAST_CHECKPOINT, choose_output_dir, resume_checkpoint
from lenetlab.run.status import job_dirs


def check_config(cfg: DictConfig, check_devices: bool = True) -> None:
    """Refuse (ConfigError, one line naming the key) the first bad value of ``cfg``, for every part it has."""
    validate(cfg, check_devices)
    net = _made("model", cfg.model) if "model" in cfg else None
    if "_target_" in (cfg.get("data") or {}):
        _made("data", cfg.data)
    if net is not None and "optimizer" in cfg:
        scheduler = cfg.scheduler if cfg.get("scheduler") else None
        smoothing = cfg.get("label_smoothing", 0.0)
        _made("", lambda: Classifier(net, optimizer=cfg.optimizer, scheduler=scheduler, label_smoothing=smoothing))
    if "callbacks" in cfg:
        cfg = cfg.copy()
        if "output_dir" in cfg:
            cfg.output_dir = "."  # the callbacks' directories, unset before Hydra starts the run; nothing is written
        for name, callback in cfg.callbacks.items():
            if callback is not None:
                _made(f"callbacks.{name}", callback)


def _made(where: str, config):
    """``config`` instantiated (or called); its constructor's ValueError as ConfigError ``where.name=value ...``."""
    try:
        return config() if callable(config) else instantiate(config)
    except (InstantiationException, ValueError, TypeError) as error:
        cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if re.match(r"[\w.]+=", message):  # names its argument: name=value is not accepted: ...
            raise ConfigError(f"{where}.{message}" if where else message) from None
        raise ConfigError(f"{where or 'config'}: {message}") from None


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
    if target is None:  # no datamodule: the commands that use a trained model
        return False
    try:
        return get_class(str(target)) is MNISTDataModule
    except (ImportError, ValueError):  # not a class: instantiating the datamodule reports it
        return False


def check_data(cfg: DictConfig) -> None:
    """Check the MNIST files' headers and sizes (downloading them first if missing and allowed)."""
    if not _is_mnist(cfg.get("data", {}).get("_target_")):  # another dataset checks its own files
        return
    root = Path(cfg.data.root) if cfg.data.get("root") else default_data_root()
    raw = ensure_mnist(root, cfg.data.get("download", True))  # downloads, or names what is missing or corrupt
    n = check_idx_file(raw / "train-images-idx3-ubyte", IMAGES_MAGIC)[0]
    val_size = cfg.data.get("val_size", 5000)
    ok = isinstance(val_size, int) and 0 < val_size < n
    require(ok, "data.val_size", val_size, f"an integer from 1 to {n - 1} (the training images held out)")


class StartChecks(Callback):
    """Hydra callback of every command: choose the directory to resume, then refuse bad input before anything
    is written. Runs before Hydra creates the run (sweep) directory, so a refused start leaves nothing behind
    and changes nothing in an existing one.

    ``settings`` names the command's check of its own keys (``lenetlab.search.settings.check_settings``);
    with ``continues``, an existing output directory is continued (a search, a reproduction), not refused.
    """

    def __init__(self, settings: str | None = None, continues: bool = False):
        self.settings, self.continues = settings, continues

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            out = choose_output_dir(config, multirun=False)
            resuming = config.get("resume") or config.get("ckpt_path") or self.continues
            if not resuming and (out / ".hydra").is_dir():
                raise ConfigError(
                    f"hydra.run.dir={str(out)!r} already holds a run: add resume=true to continue it, "
                    "or choose another directory"
                )
            if self.settings:
                get_method(self.settings)(config)
            check_config(config)
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
                    check_config(job_config, check_devices=False)
            else:
                check_config(config, check_devices=False)
            resumed = [job / LAST_CHECKPOINT for job in job_dirs(sweep_dir)] if config.get("resume") else []
            for checkpoint in [config.get("ckpt_path"), *resumed]:
                if checkpoint and Path(checkpoint).is_file():
                    read_checkpoint(checkpoint)
            check_output_dir(sweep_dir)
            check_data(config)
        except BAD_INPUT as error:
            refuse(error)
