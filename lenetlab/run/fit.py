"""One run: fit, test and log one configuration, and record how it ended in ``status.json``."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig

from lenetlab.config import ConfigError
from lenetlab.config.validation import validate
from lenetlab.models.callbacks import EpochTimer
from lenetlab.models.classifier import Classifier, DivergedError, ScheduleError
from lenetlab.models.networks import count_parameters
from lenetlab.output import percent
from lenetlab.output.atomic_checkpoint import AtomicCheckpointIO
from lenetlab.run.precision import resolve_precision, slow_bf16_note
from lenetlab.run.resume import first_epoch_after, last_checkpoint_epoch, resume_checkpoint
from lenetlab.run.start_checks import check_output_dir
from lenetlab.run.status import CONTINUE_RUN, interrupted_reason, write_status
from lenetlab.tensorboard.hparams import config_hparams

log = logging.getLogger(__name__)


def run_hparams(cfg: DictConfig, net: torch.nn.Module, accelerator: str, precision: str | int) -> dict:
    """The values shown in TensorBoard's HParams tab: the config's, the device and precision used, the parameter
    count."""
    used = {"accelerator": accelerator, "precision": str(precision)}
    return {**config_hparams(cfg), **used, "params": count_parameters(net)}


def compile_mode(compile: bool | str) -> str | None:
    """The ``torch.compile`` mode that the ``compile`` setting asks for, or None for eager."""
    if compile is True:
        return "default"
    return compile or None


def channels_last_for(setting: bool | str, device_type: str) -> bool:
    """Whether to train in NHWC: ``auto`` where it was measured faster, the CPU (oneDNN's pooling)."""
    return device_type == "cpu" if setting == "auto" else bool(setting)


def prepare_network(net: torch.nn.Module, cfg: DictConfig, device_type: str) -> None:
    """How the run trains the network, not what it is: NHWC weights (``channels_last``) and ``torch.compile``, both
    in place, so that the checkpoint's weights keep their names and load into a plain network."""
    if channels_last_for(cfg.get("channels_last", False), device_type):
        net.to(memory_format=torch.channels_last)
    if mode := compile_mode(cfg.get("compile", False)):
        net.compile(mode=mode)


class RunStopped(Exception):
    """Raised by a callback to end a run early under its own status (a search's pruner: ``pruned``)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status


def train(cfg: DictConfig, callbacks: list[L.Callback] | None = None, to_continue: str = CONTINUE_RUN) -> dict:
    """Fit one configuration and, unless ``test=false``, score its best checkpoint on the test set; return its
    status and final metrics.

    ``callbacks`` are added to the configured ones (a search adds its pruning callback). Ctrl-C (and SIGTERM
    where the command made it one) records the run as ``interrupted`` in its ``status.json``, with
    ``to_continue`` as what to do next, and raises KeyboardInterrupt. The process's settings (warning filters, threads, signal handlers, matmul precision) are
    left as found: they are the commands' (the ``main`` of ``lenetlab.train`` and ``lenetlab.search``).
    """
    validate(cfg)
    check_output_dir(cfg.output_dir)
    out = Path(cfg.output_dir)
    try:
        return _fit_and_test(cfg, out, callbacks or [])
    except KeyboardInterrupt:
        last_epoch = last_checkpoint_epoch(out)
        write_status(out, "interrupted", reason=interrupted_reason(last_epoch, to_continue), last_epoch=last_epoch)
        raise


def _fit_and_test(cfg: DictConfig, out: Path, callbacks: list[L.Callback]) -> dict:
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    ckpt_path = resume_checkpoint(cfg, out)
    if ckpt_path:  # on the terminal and in the run's log: which run, from which epoch
        log.info("resume: continuing after epoch %d of %s, in %s", first_epoch_after(ckpt_path) - 1, ckpt_path, out)
    # a resumed run drops the points its interrupted predecessor logged after the checkpoint
    resumed = ckpt_path and issubclass(get_class(cfg.logger._target_), TensorBoardLogger)
    logger = instantiate(cfg.logger, **({"purge_step": first_epoch_after(ckpt_path)} if resumed else {}))
    callbacks = [*(instantiate(c) for c in cfg.callbacks.values() if c is not None), *callbacks]
    # callbacks.progress_bar=null means no bar at all, not Lightning's default one
    show_bar = any(isinstance(c, ProgressBar) for c in callbacks)
    # a compiled network evaluates under no_grad: the test then reuses the validation's graph, where under
    # inference_mode its batches (inference tensors) would make torch.compile compile the network once more
    evaluation = {"inference_mode": False} if cfg.get("compile") and "inference_mode" not in cfg.trainer else {}
    precision = resolve_precision(cfg.trainer.get("precision", 32), cfg.trainer.accelerator)  # auto: bf16 if native
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        precision=precision,
        logger=logger,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=show_bar,
        **evaluation,
    )
    device_type = trainer.strategy.root_device.type
    model = Classifier(
        cfg.model,
        optimizer=cfg.optimizer,
        scheduler=cfg.scheduler if cfg.get("scheduler") else None,
        label_smoothing=cfg.get("label_smoothing", 0.0),
    )
    prepare_network(model.net, cfg, device_type)
    checkpoint = trainer.checkpoint_callback  # the first ModelCheckpoint: callbacks.model_checkpoint, the best epoch
    timer = next(c for c in trainer.callbacks if isinstance(c, EpochTimer))
    accelerator = "gpu" if device_type == "cuda" else device_type
    hparams = run_hparams(cfg, model.net, accelerator, precision)
    if note := slow_bf16_note(precision, device_type):
        log.warning("%s", note)

    status, reason, test = "finished", None, {}
    try:
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except DivergedError as error:
            status, reason = "diverged", str(error)
            log.warning("diverged: %s", error)
        except RunStopped as stop:
            status, reason = stop.status, str(stop)
            log.info("%s: %s", status, stop)
        except ScheduleError as error:  # known once fitting starts (the run's steps): bad input all the same
            raise ConfigError(str(error)) from None
        last_val_error = _metric(trainer, "val/error")
        # read before testing: loading the best checkpoint also restores the timer's epochs up to that one
        timing = {"epochs": len(timer.epoch_times), **timer.summary()}
        if status == "finished" and cfg.get("test", True):
            best = checkpoint.best_model_path or None  # the best epoch's weights; the last ones without validation
            (test,) = trainer.test(model, datamodule=datamodule, ckpt_path=best, verbose=False, weights_only=True)
        # the HParams entry is written once, when the run has ended (a resumed run's interruptions have none)
        logger.log_hyperparams({**hparams, "status": status})
    except SystemExit as stop:  # how Lightning ends a fit or test stopped by Ctrl-C (SIGINT) or SIGTERM
        if not trainer.interrupted:
            raise
        raise KeyboardInterrupt from stop
    finally:
        _close(logger)

    best = checkpoint.best_model_score
    metrics = {
        "best_val_error": float(best) if best is not None else None,
        "val_error": last_val_error,
        # a run that was not tested has no test score at all (a search's trials: chosen by validation only)
        **({"test_error": test.get("test/error"), "test_acc": test.get("test/acc")} if test else {}),
        "params": hparams["params"],
        **timing,
    }
    write_status(out, status, reason=reason, metrics=metrics, hparams=hparams, mean=datamodule.mean, std=datamodule.std)
    return {"status": status, "reason": reason, "metrics": metrics, "output_dir": str(out)}


def _close(logger) -> None:
    logger.finalize("success")
    close = getattr(logger, "close", None)  # lenetlab's RunLogger stays open through fit and test
    if close is not None:
        close()


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
