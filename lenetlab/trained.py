"""A trained model for the commands that use one: its checkpoints found and loaded, and where it reads MNIST."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from lenetlab.data.mnist import DataNotFoundError, chosen_by, default_data_root, has_mnist
from lenetlab.models.classifier import Classifier
from lenetlab.models.safe_checkpoint import CheckpointError, read_checkpoint
from lenetlab.run.precision import resolve_precision
from lenetlab.run.status import job_dirs

BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"
ACCEPTED = "a .ckpt file, a run directory (its checkpoints/best.ckpt) or a sweep directory"


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


def load_trained(path: Path, trust: Iterable[str] = ()) -> Trained:
    """The model of a lenetlab checkpoint, on the CPU and in eval mode, uncompiled; ``trust`` as in
    :meth:`Classifier.load_from_checkpoint`. CheckpointError (one line) for anything that cannot be loaded."""
    path = Path(path)
    try:
        model = Classifier.load_from_checkpoint(path, map_location="cpu", trust=trust)
    except CheckpointError:
        raise
    except Exception as error:  # a network that cannot be built, weights that do not fit it
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: cannot rebuild its model ({type(error).__name__}: {reason[:160]})") from None
    data = dict(read_checkpoint(path).get("datamodule_hyper_parameters") or {})
    return Trained(model.eval(), data, path)


def load_models(checkpoints: list[Path], cfg: DictConfig) -> list[Trained]:
    """Load every checkpoint (all before anything is written; the start checks checked the settings)."""
    return [load_trained(path, trust=cfg.get("trust") or ()) for path in checkpoints]


def data_root_for(trained: Trained, given: str | None) -> str:
    """Where a trained model's command reads MNIST: ``given`` (``data.root``, ``$LENETLAB_DATA_DIR``), else the
    folder its run trained on or the default one, whichever holds MNIST (DataNotFoundError naming both if neither)."""
    if given:
        return str(given)
    trained_on, default = trained.data.get("root"), default_data_root()
    for root in (trained_on, default):
        if root and has_mnist(root):
            return str(root)
    if trained_on and Path(trained_on) != default:
        raise DataNotFoundError(
            f"MNIST not found in {Path(trained_on) / 'MNIST' / 'raw'}, where {trained.path} was trained, nor in "
            f"{default / 'MNIST' / 'raw'} ({chosen_by(default)})"
        )
    return str(default)  # the datamodule downloads it there, or says what is missing


def inference_trainer(cfg: DictConfig) -> L.Trainer:
    """A Trainer on ``cfg.trainer``'s device and precision that writes nothing (no logger, no checkpoints)."""
    quiet = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    return L.Trainer(accelerator=cfg.trainer.accelerator, devices=1, precision=precision, **quiet)
