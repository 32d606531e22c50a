"""What a search samples: ``search.space`` as Optuna distributions, the draws, and a trial's training config."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import optuna
from omegaconf import DictConfig, OmegaConf, open_dict
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from lenetlab import CONF_DIR
from lenetlab.config import ConfigError

_ABSENT = object()


def config_group(key: str) -> Path | None:
    """The folder of the config group ``key`` names (``scheduler``, ``optimizer``...), if it names one."""
    folder = CONF_DIR / key.replace(".", "/")
    return folder if folder.is_dir() and "." not in key else None


def search_space(cfg: DictConfig) -> dict[str, tuple[str, BaseDistribution]]:
    """``search.space`` as ``{name: (training key, Optuna distribution)}``; ConfigError on a bad entry.

    A key that names a config group (``scheduler``) takes the names of its options as categorical choices.
    """
    space = {}
    for name, spec in cfg.search.space.items():
        where = f"search.space.{name}"
        if not isinstance(spec, DictConfig) or "key" not in spec:
            raise ConfigError(f"{where}={spec!r} is not accepted: expected {{key: <training key>, type: ...}}")
        group = config_group(spec.key)
        missing = OmegaConf.select(cfg, spec.key, default=_ABSENT) is _ABSENT and group is None
        if missing or spec.key.split(".")[0] == "search":
            raise ConfigError(f"{where}.key={spec.key!r} is not accepted: expected a key of the training config")
        kind = spec.get("type")
        if group is not None:
            options = sorted(p.stem for p in group.glob("*.yaml"))
            choices = OmegaConf.to_container(spec.choices) if kind == "categorical" and "choices" in spec else None
            if not choices or any(choice not in options for choice in choices):
                raise ConfigError(
                    f"{where}={OmegaConf.to_container(spec)} is not accepted: {spec.key} is a config group, "
                    f"expected type: categorical with choices among {' | '.join(options)}"
                )
        try:
            if kind == "categorical":
                distribution = CategoricalDistribution(OmegaConf.to_container(spec.choices))
            elif kind == "float":
                distribution = FloatDistribution(spec.low, spec.high, log=spec.get("log", False), step=spec.get("step"))
            elif kind == "int":
                distribution = IntDistribution(
                    spec.low, spec.high, log=spec.get("log", False), step=spec.get("step") or 1
                )
            else:
                raise ConfigError(f"{where}.type={kind!r} is not accepted: expected float | int | categorical")
        except (ValueError, TypeError, AttributeError) as error:
            raise ConfigError(f"{where}={OmegaConf.to_container(spec)} is not accepted: {error}") from None
        space[name] = (spec.key, distribution)
    return space


def suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution):
    """Draw ``name`` from ``distribution`` through the trial's public suggest API."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, step=distribution.step, log=distribution.log
        )
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


class PerTrialSeed(optuna.samplers.BaseSampler):
    """Wraps a sampler, re-created before every trial with a seed made of (seed, trial number).

    A trial's draws then depend only on its number: a resumed search does not replay the first
    trials' values, and workers sharing a study do not draw the same ones.
    """

    def __init__(self, make, seed: int):
        self.make, self.seed = make, seed
        self.inner = make(seed=seed)

    def before_trial(self, study, trial) -> None:
        self.inner = self.make(seed=int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0]))
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self.inner.after_trial(study, trial, state, values)


def run_config(cfg: DictConfig, values: dict, output_dir: Path) -> DictConfig:
    """The training config of one run: the composed config without ``search``, plus ``values``.

    A value for a config group (``scheduler: cosine``) replaces that group's node by the option's
    file, before the other values are set (they may refine it).
    """
    run = copy.deepcopy(cfg)
    with open_dict(run):
        del run["search"]
        run.output_dir = str(output_dir)
        groups = {key: value for key, value in values.items() if config_group(key)}
        for key, option in groups.items():
            run[key] = OmegaConf.load(config_group(key) / f"{option}.yaml")
        for key, value in values.items():
            if key not in groups:
                OmegaConf.update(run, key, value, merge=False, force_add=True)
    return run
