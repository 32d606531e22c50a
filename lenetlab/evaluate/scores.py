"""A trained model's error and accuracy on the test (or validation) images, and ``evaluation.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig

from lenetlab.config import ConfigError
from lenetlab.data.mnist import MNISTDataModule
from lenetlab.evaluate.figure import evaluation_figure
from lenetlab.output.atomic import atomic_write_text
from lenetlab.run.status import read_status
from lenetlab.trained import Trained, data_root_for, inference_trainer

EVALUATION_FILE = "evaluation.json"


def datamodule_for(trained: Trained, cfg: DictConfig) -> MNISTDataModule:
    """The MNIST splits of the model's run (same validation images)."""
    root = data_root_for(trained, cfg.data.root)
    return MNISTDataModule(**{**trained.data, "root": root, "eval_batch_size": cfg.batch_size})


def evaluate(trained: Trained, cfg: DictConfig) -> tuple[dict, Figure | None]:
    """Score one model on ``cfg.split`` in batches: its error, accuracy, images and seconds (and the figure)."""
    if cfg.split == "val" and trained.data.get("full_train"):
        raise ConfigError(
            f"split=val: {trained.path} was trained on every training image, so it has no validation images"
        )
    data = datamodule_for(trained, cfg)
    data.prepare_data()
    data.setup()
    trainer = inference_trainer(cfg)
    score = trainer.test if cfg.split == "test" else trainer.validate
    start = time.perf_counter()
    (metrics,) = score(trained.model, datamodule=data, verbose=False)
    seconds = time.perf_counter() - start
    run = read_status(trained.path.resolve().parent.parent) or {}
    result = {
        "checkpoint": str(trained.path),
        "split": cfg.split,
        "error": metrics[f"{cfg.split}/error"],
        "accuracy": metrics[f"{cfg.split}/acc"],
        "images": len(data.splits[cfg.split][1]),
        "seconds": seconds,
        "accelerator": trainer.strategy.root_device.type,
        "precision": str(cfg.trainer.precision),
        "run_test_error": (run.get("metrics") or {}).get("test_error"),
    }
    return result, figure_of(trained, data, cfg) if cfg.figures else None


def figure_of(trained: Trained, data: MNISTDataModule, cfg: DictConfig) -> Figure:
    """The confusion matrix and the most confidently wrong images of ``cfg.split``."""
    pixels, labels = (t.cpu() for t in data.splits[cfg.split])
    model = trained.model.cpu()
    with torch.inference_mode():
        probabilities = torch.cat([model(batch).softmax(dim=1) for batch in pixels.split(cfg.batch_size)])
    return evaluation_figure(pixels, labels, probabilities, f"{trained.path}: {cfg.split} images")


def write_evaluation(result: dict) -> Path:
    """Add ``result`` to the ``evaluation.json`` beside its checkpoint (one entry per checkpoint and split)."""
    checkpoint = Path(result["checkpoint"])
    path = checkpoint.parent / EVALUATION_FILE
    evaluations = json.loads(path.read_text()) if path.is_file() else {}
    evaluations.setdefault(checkpoint.name, {})[result["split"]] = result
    atomic_write_text(path, json.dumps(evaluations, indent=2))
    return path
