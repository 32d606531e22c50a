"""A run's checkpoints: written atomically, resumed from, and found and loaded for the commands that use a trained model."""

from __future__ import annotations

import contextlib
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from lenetlab.config import ConfigError, refuse
from lenetlab.config.validation import BAD_INPUT, check_accelerator
from lenetlab.models.classifier import CheckpointError, Classifier
from lenetlab.output.atomic import atomic_file
from lenetlab.run.status import job_dirs, read_status

BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
ACCEPTED = "a .ckpt file, a run directory (its checkpoints/best.ckpt) or a sweep directory"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file beside it, fsync, then rename over the old one.

    Lightning's own save stages the file in the system temp directory and *moves* it, which is a
    copy (not atomic) when that directory is on another file system; a kill then can leave half a file.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_file(path, "wb") as f:
            torch.save(checkpoint, f)


def resume_checkpoint(cfg: DictConfig, output_dir: Path) -> str | None:
    """The checkpoint this run starts from: ``ckpt_path``, else with ``resume=true`` the run's own last one."""
    if cfg.get("ckpt_path"):
        return str(cfg.ckpt_path)
    last = Path(output_dir) / LAST_CHECKPOINT
    return str(last) if cfg.get("resume") and last.is_file() else None


def first_epoch_after(checkpoint: str) -> int:
    """The epoch a run resumed from ``checkpoint`` starts with (Lightning's checkpoints end an epoch)."""
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["epoch"]) + 1


@dataclass
class Trained:
    """A loaded model, the arguments of the datamodule it was trained on, and its checkpoint."""

    model: Classifier
    data: dict
    path: Path


def find_checkpoints(path: str | Path) -> list[Path]:
    """The checkpoint ``path`` names: itself, a run's best one, or the best one of each job of a sweep."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint={path}: no such file or directory; expected {ACCEPTED}")
    if path.is_file():
        return [path]
    if (path / BEST_CHECKPOINT).is_file():
        return [path / BEST_CHECKPOINT]
    found = [job / BEST_CHECKPOINT for job in job_dirs(path) if (job / BEST_CHECKPOINT).is_file()]
    if not found:
        raise CheckpointError(f"checkpoint={path}: no checkpoints/best.ckpt in it or in its jobs; expected {ACCEPTED}")
    return found


def read_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint's contents (tensors on the CPU); CheckpointError for any other file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({reason[:120]})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (it has no state_dict); expected {ACCEPTED}")
    return checkpoint


def load_trained(path: Path) -> Trained:
    """The model of a lenetlab checkpoint, on the CPU and in eval mode, uncompiled.

    A checkpoint written before checkpoints held their model is rebuilt from its run's
    ``.hydra/config.yaml`` and ``status.json`` (its normalization).
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hparams = checkpoint.get("hyper_parameters") or {}
    if "net" in hparams:
        try:
            model = Classifier.load_from_checkpoint(path, map_location="cpu", compile=False)
        except Exception as error:  # a network that cannot be built, weights that do not fit it
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(
                f"{path}: cannot rebuild its model ({type(error).__name__}: {reason[:160]})"
            ) from None
        data = dict(checkpoint.get("datamodule_hyper_parameters") or {})
    else:
        model, data = _from_run(path, checkpoint)
    return Trained(model.eval(), data, path)


def _from_run(path: Path, checkpoint: dict) -> tuple[Classifier, dict]:
    """An older lenetlab checkpoint's model, built from its run's config; CheckpointError for another program's."""
    run = path.resolve().parent.parent
    status, config = read_status(run) or {}, run / ".hydra" / "config.yaml"
    lenetlab_weights = all(name.startswith("net.") for name in checkpoint["state_dict"])
    if not (lenetlab_weights and config.is_file() and status.get("mean") is not None):
        raise CheckpointError(
            f"{path}: not a lenetlab checkpoint (no model config in it, and no lenetlab run with "
            ".hydra/config.yaml and status.json around it)"
        )
    cfg = OmegaConf.load(config)
    model = Classifier(
        cfg.model,
        optimizer=cfg.optimizer,
        channels_last=cfg.get("channels_last", False),
        mean=status["mean"],
        std=status["std"],
    )
    # a compiled network's weights were saved under net._orig_mod.*
    weights = {name.replace("net._orig_mod.", "net.", 1): value for name, value in checkpoint["state_dict"].items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(
            f"{path}: its weights do not fit {run}'s model config ({str(error).splitlines()[0]})"
        ) from None
    data = OmegaConf.to_container(cfg.data, resolve=True)
    data.pop("_target_", None)
    return model, data


def load_models(checkpoints: list[Path], cfg: DictConfig) -> list[Trained]:
    """Check the command's settings, then load every checkpoint (all before anything is written)."""
    check_accelerator(cfg.trainer.accelerator)
    batch = cfg.batch_size
    if not (isinstance(batch, int) and batch > 0):
        raise ConfigError(f"batch_size={batch!r} is not accepted: expected a positive integer")
    return [load_trained(path) for path in checkpoints]


def inference_trainer(cfg: DictConfig) -> L.Trainer:
    """A Trainer on ``cfg.trainer``'s device and precision that writes nothing (no logger, no checkpoints)."""
    quiet = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return L.Trainer(accelerator=cfg.trainer.accelerator, devices=1, precision=cfg.trainer.precision, **quiet)


@contextlib.contextmanager
def refusing_bad_input() -> Iterator[None]:
    """Turn bad input (a setting, a file, a checkpoint) into one line on stderr and exit status 2."""
    try:
        yield
    except (*BAD_INPUT, CheckpointError) as error:
        refuse(error)
