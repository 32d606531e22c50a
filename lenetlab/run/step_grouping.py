"""How many optimizer steps one Lightning training step takes (``steps_per_call``), from what the run needs."""

from __future__ import annotations

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig

from lenetlab.config import ConfigError

# Lightning's loop and hooks cost about a millisecond a step on a CPU; 50 batches a step (the progress bar's
# refresh interval) make that 0.02 ms a batch (measured: docs/performance.md#several-batches-a-lightning-step)
AUTO_STEPS_PER_CALL = 50
PER_BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end")


def _needs_per_batch_hooks(callback: L.Callback) -> bool:
    if isinstance(callback, ProgressBar):  # it shows the batch count it is given, whatever the step
        return False
    if isinstance(callback, ModelCheckpoint):  # its per-batch hook saves only every_n_train_steps / a time interval
        return bool(callback._every_n_train_steps or callback._train_time_interval)
    return any(is_overridden(hook, callback, L.Callback) for hook in PER_BATCH_HOOKS)


def per_batch_needs(trainer: L.Trainer) -> list[str]:
    """What in this Trainer needs Lightning's loop once per batch: callbacks with per-batch hooks, gradient
    clipping or accumulation, a validation or a stop within an epoch."""
    needs = [f"callback {type(c).__name__}" for c in trainer.callbacks if _needs_per_batch_hooks(c)]
    settings = {
        "gradient_clip_val": trainer.gradient_clip_val not in (None, 0),
        "accumulate_grad_batches": trainer.accumulate_grad_batches != 1,
        "val_check_interval": trainer.val_check_interval != 1.0,
        "max_steps": trainer.max_steps != -1,
    }
    return needs + [f"trainer.{key}" for key, set_ in settings.items() if set_]


def steps_per_call_for(setting: int | str, trainer: L.Trainer) -> int:
    """``auto``: ``AUTO_STEPS_PER_CALL`` where nothing needs a Lightning step per batch, else 1; a number as given.

    A number above 1 where something does need one is refused (ConfigError), naming it.
    """
    needs = per_batch_needs(trainer)
    if setting == "auto":
        return 1 if needs else AUTO_STEPS_PER_CALL
    if setting > 1 and needs:
        raise ConfigError(
            f"steps_per_call={setting} is not accepted with {needs[0]}, which needs one optimizer step per "
            "Lightning step: expected steps_per_call=1 or auto"
        )
    return setting


def check_steps_per_call(cfg: DictConfig) -> None:
    """Refuse (ConfigError) a ``steps_per_call`` above 1 that the run's callbacks or trainer settings cannot take,
    before the run starts: its callbacks and a CPU Trainer of its settings are made, which writes nothing."""
    setting = cfg.get("steps_per_call", 1)
    if setting == "auto" or setting <= 1:
        return
    cfg = cfg.copy()
    cfg.output_dir = "."  # the callbacks' directories, unset before Hydra starts the run; nothing is written there
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    trainer = instantiate(cfg.trainer, accelerator="cpu", devices=1, logger=False, callbacks=callbacks)
    steps_per_call_for(setting, trainer)
