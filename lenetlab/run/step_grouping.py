"""How many optimizer steps one Lightning training step takes (``steps_per_call``), from what the run needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import GradientAccumulationScheduler, ModelCheckpoint, ProgressBar
from lightning.pytorch.utilities.model_helpers import is_overridden
from omegaconf import DictConfig

from lenetlab.config import ConfigError

# Lightning's loop and hooks cost about a millisecond a step on a CPU; 50 batches a step (the progress bar's
# refresh interval) make that 0.02 ms a batch (measured: docs/performance.md#several-batches-a-lightning-step)
AUTO_STEPS_PER_CALL = 50
# the callback hooks that Lightning runs once per batch only when a step is one batch
PER_BATCH_HOOKS = ("on_train_batch_start", "on_train_batch_end", "on_before_zero_grad")
# the Trainer settings that work only with one batch a step, and their values that need nothing
TRAINER_SETTINGS = {
    "gradient_clip_val": (None, 0),
    "accumulate_grad_batches": (None, 1),
    "val_check_interval": (None, 1.0),
    "max_steps": (None, -1),
    "max_time": (None,),
}


def _needs_per_batch_hooks(callback: L.Callback) -> bool:
    if isinstance(callback, ProgressBar):  # it draws the batch count it is given, every refresh_rate batches or so
        return False
    if isinstance(callback, ModelCheckpoint):  # its per-batch hook saves only every_n_train_steps / a time interval
        return bool(callback._every_n_train_steps or callback._train_time_interval)
    if isinstance(callback, GradientAccumulationScheduler):  # refuses manual optimization
        return True
    return any(is_overridden(hook, callback, L.Callback) for hook in PER_BATCH_HOOKS)


def per_batch_needs(
    callbacks: Iterable[L.Callback], trainer_settings: Mapping[str, Any], datamodule: Any = None
) -> list[str]:
    """What needs Lightning's loop once per batch: callbacks with per-batch hooks, a Trainer setting of
    ``TRAINER_SETTINGS`` (gradient clipping or accumulation, a stop or validation within an epoch), or a
    datamodule's ``on_before_batch_transfer``."""
    needs = [f"callback {type(c).__name__}" for c in callbacks if _needs_per_batch_hooks(c)]
    needs += [f"trainer.{key}" for key, fine in TRAINER_SETTINGS.items() if trainer_settings.get(key) not in fine]
    if isinstance(datamodule, L.LightningDataModule) and is_overridden(
        "on_before_batch_transfer", datamodule, L.LightningDataModule
    ):
        needs.append(f"{type(datamodule).__name__}.on_before_batch_transfer")
    return needs


def trainer_needs(trainer: L.Trainer, datamodule: Any = None) -> list[str]:
    """:func:`per_batch_needs` of a Trainer (its ``max_time`` is its Timer callback, among the callbacks)."""
    settings = {key: getattr(trainer, key) for key in TRAINER_SETTINGS if key != "max_time"}
    return per_batch_needs(trainer.callbacks, settings, datamodule)


def steps_per_call_for(setting: int | str, needs: list[str]) -> int:
    """``auto``: ``AUTO_STEPS_PER_CALL`` where nothing ``needs`` a Lightning step per batch, else 1; a number as
    given. A number above 1 where something does need one is refused (ConfigError), naming it."""
    if setting == "auto":
        return 1 if needs else AUTO_STEPS_PER_CALL
    if setting > 1 and needs:
        raise ConfigError(
            f"steps_per_call={setting} is not accepted with {needs[0]}, which needs one optimizer step per "
            "Lightning step: expected steps_per_call=1 or auto"
        )
    return setting


def check_steps_per_call(cfg: DictConfig) -> None:
    """Refuse (ConfigError) a ``steps_per_call`` above 1 that the run's callbacks, trainer settings or datamodule
    cannot take, before the run starts. Its callbacks and datamodule are made, which reads and writes nothing."""
    setting = cfg.get("steps_per_call", 1)
    if setting == "auto" or setting <= 1:
        return
    cfg = cfg.copy()
    cfg.output_dir = "."  # the callbacks' directories, unset before Hydra starts the run; nothing is written there
    callbacks = [instantiate(c) for c in cfg.callbacks.values() if c is not None]
    steps_per_call_for(setting, per_batch_needs(callbacks, cfg.trainer, instantiate(cfg.data)))
