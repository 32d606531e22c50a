"""Refuse bad search settings before the search directory is written (``lenetlab.run.start_checks`` calls
:func:`check_settings` with train's checks)."""

from __future__ import annotations

import optuna
from omegaconf import DictConfig

from lenetlab.config import ConfigError
from lenetlab.search.space import search_space

SAMPLERS = {"random": optuna.samplers.RandomSampler, "tpe": optuna.samplers.TPESampler}
PRUNERS = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


def check_settings(cfg: DictConfig) -> None:
    """Refuse bad ``search.*`` values (ConfigError naming the key) before anything is written."""
    s = cfg.search
    for key in ("n_trials", "max_failed_in_a_row", "heartbeat_interval", "grace_period", "final_max_epochs", "seed"):
        value, low = s.get(key), 0 if key in ("final_max_epochs", "seed") else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"search.{key}={value!r} is not accepted: expected an integer >= {low}")
    # a trial is scored by its validation error: settings that never validate would fail every trial
    t = cfg.trainer
    every = t.get("check_val_every_n_epoch") or 1
    for key, value, ok in (
        ("max_epochs", t.max_epochs, isinstance(t.max_epochs, int) and t.max_epochs >= 1),
        ("limit_val_batches", t.get("limit_val_batches", 1.0), t.get("limit_val_batches", 1.0) != 0),
        ("check_val_every_n_epoch", every, isinstance(t.max_epochs, int) and every <= t.max_epochs),
    ):
        if not ok:
            raise ConfigError(f"trainer.{key}={value!r} is not accepted in a search: each trial must validate once")
    for key, options in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if s.get(key) not in options:
            raise ConfigError(f"search.{key}={s.get(key)!r} is not accepted: expected {' | '.join(options)}")
    search_space(cfg)
