"""``python -m lenetlab.train``: fit, test and log one configuration (or a Hydra sweep of them)."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig
from torch.utils.tensorboard.summary import hparams as hparams_summary

from lenetlab.callbacks import EpochTimer
from lenetlab.formats import percent
from lenetlab.hparams import config_hparams
from lenetlab.launchers import set_job_threads
from lenetlab.models import count_parameters
from lenetlab.module import Classifier, DivergedError
from lenetlab.overrides import checks_command_line
from lenetlab.resume import AtomicCheckpointIO, FlushCurves, first_epoch_after, resume_checkpoint
from lenetlab.run_status import read_status, write_status
from lenetlab.validation import BAD_INPUT, check_output_dir, validate

log = logging.getLogger(__name__)

CURVE_TAGS = (
    "val/error",
    "val/acc",
    "val/loss",
    "train/loss",
    "test/error",
    "test/acc",
    "time/train_epoch_s",
    "time/fit_s",
)


def run_hparams(cfg: DictConfig, net: torch.nn.Module, accelerator: str) -> dict:
    """The values shown in TensorBoard's HParams tab: the config's, the device used and the parameter count."""
    return {**config_hparams(cfg), "accelerator": accelerator, "params": count_parameters(net)}


def write_hparams(logger, hparams: dict) -> None:
    """Add the HParams entry without the stray step-0 points that ``log_hyperparams(p, metrics)`` writes.

    The HParams tab reads each metric's value from the run's own scalar curves.
    """
    writer = logger.experiment._get_file_writer()
    for summary in hparams_summary(hparams, {tag: math.nan for tag in CURVE_TAGS}):
        writer.add_summary(summary)
    logger.experiment.flush()


class RunStopped(Exception):
    """Raised by a callback to end a run early under its own status (a search's pruner: ``pruned``)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status


def train(cfg: DictConfig, callbacks: list[L.Callback] | None = None) -> dict:
    """Fit and test one configuration; return its status and final metrics.

    ``callbacks`` are added to the configured ones (a search adds its pruning callback).
    """
    validate(cfg)
    check_output_dir(cfg.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.output_dir)
    datamodule = instantiate(cfg.data)
    net = instantiate(cfg.model)
    model = Classifier(
        net,
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        compile=cfg.get("compile", False),
        channels_last=cfg.get("channels_last", False),
        label_smoothing=cfg.get("label_smoothing", 0.0),
    )
    ckpt_path = resume_checkpoint(cfg, out)
    # a resumed run drops the points its killed predecessor logged after the checkpoint
    resumed = {"purge_step": first_epoch_after(ckpt_path)} if ckpt_path and "TensorBoard" in cfg.logger._target_ else {}
    logger = instantiate(cfg.logger, **resumed)
    callbacks = [*(instantiate(c) for c in cfg.callbacks.values() if c is not None), *(callbacks or []), FlushCurves()]
    # callbacks.progress_bar=null means no bar at all, not Lightning's default one
    show_bar = any(isinstance(c, ProgressBar) for c in callbacks)
    trainer: L.Trainer = instantiate(
        cfg.trainer, logger=logger, callbacks=callbacks, plugins=[AtomicCheckpointIO()], enable_progress_bar=show_bar
    )
    checkpoint = next(c for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
    timer = next(c for c in trainer.callbacks if isinstance(c, EpochTimer))
    accelerator = "gpu" if trainer.strategy.root_device.type == "cuda" else trainer.strategy.root_device.type
    if accelerator == "gpu":  # TF32 tensor cores, set before fit (cuDNN's convolutions use them already)
        torch.set_float32_matmul_precision("high")
    hparams = run_hparams(cfg, net, accelerator)

    status, reason, test = "finished", None, {}
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    except DivergedError as error:
        status, reason = "diverged", str(error)
        log.warning("diverged: %s", error)
    except RunStopped as stop:
        status, reason = stop.status, str(stop)
        log.info("%s: %s", status, stop)
    last_val_error = _metric(trainer, "val/error")
    # read before testing: loading the best checkpoint also restores the timer's epochs up to that one
    timing = {"epochs": len(timer.epoch_times), **timer.summary()}
    if status == "finished" and checkpoint.best_model_path:
        (test,) = trainer.test(model, datamodule=datamodule, ckpt_path="best", verbose=False)
    elif status == "finished":
        (test,) = trainer.test(model, datamodule=datamodule, verbose=False)

    best = checkpoint.best_model_score
    metrics = {
        "best_val_error": float(best) if best is not None else None,
        "val_error": last_val_error,
        "test_error": test.get("test/error"),
        "test_acc": test.get("test/acc"),
        "params": hparams["params"],
        **timing,
    }
    write_hparams(logger, {**hparams, "status": status})
    logger.finalize("success")
    write_status(out, status, reason=reason, metrics=metrics, hparams=hparams, mean=datamodule.mean, std=datamodule.std)
    return {"status": status, "reason": reason, "metrics": metrics, "output_dir": str(out)}


def result_line(result: dict) -> str:
    """The one line a run ends with: how it ended, its errors in percent, epochs, time and directory."""
    metrics = result["metrics"]
    errors = [
        f"{name} {percent(metrics[key])}"
        for name, key in (("best val error", "best_val_error"), ("test error", "test_error"))
        if metrics.get(key) is not None
    ]
    reason = [result["reason"]] if result.get("reason") else []
    took = f"{metrics['epochs']} epoch{'s' * (metrics['epochs'] != 1)} in {metrics['fit_s']:.1f} s"
    return f"{result['status']}: {', '.join([*reason, *errors, took])} -> {result['output_dir']}"


def _metric(trainer: L.Trainer, tag: str) -> float | None:
    value = trainer.callback_metrics.get(tag)
    return float(value) if value is not None else None


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@checks_command_line("train")
@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Hydra entry point. In a sweep a failing job is recorded and the sweep goes on."""
    out = Path(cfg.output_dir)
    set_job_threads()
    record = read_status(out) if cfg.get("resume") else None
    if record and record["status"] in ("finished", "diverged"):
        log.info("resume: %s already %s, skipped", out, record["status"])
        best = (record.get("metrics") or {}).get("best_val_error")
        return best if best is not None else math.nan
    try:
        result = train(cfg)
    except BAD_INPUT as error:
        write_status(out, "failed", reason=str(error))
        if _in_multirun():
            log.error("%s", error)
            return None
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        write_status(out, "failed", reason=f"{type(error).__name__}: {error}")
        if not _in_multirun():
            raise
        log.exception("job failed")
        return None
    log.info("%s", result_line(result))
    best = result["metrics"]["best_val_error"]
    return best if best is not None else math.nan


if __name__ == "__main__":
    main()
