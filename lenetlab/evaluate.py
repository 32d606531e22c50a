"""``python -m lenetlab.evaluate checkpoint=PATH``: score trained models on the test (or validation) images."""

from __future__ import annotations

import json
import time
from pathlib import Path

import hydra
import torch
from matplotlib.figure import Figure
from omegaconf import DictConfig

from lenetlab.config import ConfigError
from lenetlab.config.overrides import checks_command_line
from lenetlab.data.mnist import MNISTDataModule
from lenetlab.models.classifier import CheckpointError
from lenetlab.output import percent
from lenetlab.output.atomic import atomic_write_text
from lenetlab.output.figures import save_figure
from lenetlab.run.checkpoints import (
    Trained,
    data_root_for,
    find_checkpoints,
    inference_trainer,
    load_models,
    refusing_bad_input,
)
from lenetlab.run.evaluation_figure import evaluation_figure
from lenetlab.run.status import read_status

SPLITS = ("test", "val")
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


def result_line(result: dict) -> str:
    """``<checkpoint>: test error 1.23%, accuracy 98.77%, 10000 images, 1.4 s``."""
    return (
        f"{result['checkpoint']}: {result['split']} error {percent(result['error'])}, "
        f"accuracy {percent(result['accuracy'])}, {result['images']} images, {result['seconds']:.1f} s"
    )


def sweep_table(sweep: Path, results: list[dict]) -> str:
    """One row per job of a sweep: its name, error, accuracy, images and seconds."""
    names = [Path(r["checkpoint"]).parent.parent.relative_to(sweep).as_posix() for r in results]
    width = max(len("job"), *map(len, names))
    split = results[0]["split"]
    lines = [f"{'job':<{width}}  {split + ' error':>10}  {'accuracy':>8}  {'images':>6}  {'seconds':>7}"]
    for name, r in zip(names, results, strict=True):
        error, accuracy = percent(r["error"]), percent(r["accuracy"])
        lines.append(f"{name:<{width}}  {error:>10}  {accuracy:>8}  {r['images']:>6}  {r['seconds']:>7.1f}")
    return "\n".join(lines)


@checks_command_line("evaluate")
@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: every model is loaded (and bad input refused) before anything is written."""
    with refusing_bad_input():
        if cfg.split not in SPLITS:
            raise ConfigError(f"split={cfg.split!r} is not accepted: expected {' | '.join(SPLITS)}")
        checkpoints = find_checkpoints(cfg.checkpoint) if cfg.checkpoint else None
        if checkpoints is None:
            raise CheckpointError("checkpoint=PATH is required: a .ckpt file, a run directory or a sweep directory")
        models = load_models(checkpoints, cfg)
        results, figures = zip(*(evaluate(trained, cfg) for trained in models), strict=True)
    written = []
    for result, figure in zip(results, figures, strict=True):
        write_evaluation(result)
        if figure is not None:
            written += save_figure(figure, Path(result["checkpoint"]).parent, f"evaluation_{cfg.split}")
    sweep = Path(cfg.checkpoint)
    if len(results) > 1:
        print(f"{sweep}: {len(results)} models, {cfg.split} split")
        print(sweep_table(sweep, results))
    else:
        print(result_line(results[0]))
    for path in written:
        print(f"figure: {path}")


if __name__ == "__main__":
    main()
