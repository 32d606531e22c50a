"""What a Hydra sweep expands to: each job's overrides and the keys that vary, as the basic sweeper reads them."""

from __future__ import annotations

import itertools
from collections import defaultdict

from omegaconf import DictConfig, OmegaConf

from lenetlab.config import ConfigError

SWEEP_FILE = "multirun.yaml"  # the sweep's config, written by Hydra's sweeper into the sweep directory


def sweep_arguments(config: DictConfig) -> list[str]:
    """A sweep's grid as Hydra's basic sweeper reads it: ``hydra.sweeper.params``, then the command line's."""
    params = config.hydra.sweeper.get("params") or {}
    return [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)


def expand_sweep(arguments: list[str]) -> tuple[list[str], list[list[str]]]:
    """The keys that vary and each job's overrides, as Hydra's basic sweeper expands ``a=1,2 b=x,y``.

    A key given again replaces its earlier values in place (the command line an experiment's grid).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(arguments)
    choices: dict[str, list[str]] = {}
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override() and not override.is_discrete_sweep():
            raise ConfigError(f"{override.input_line}: a grid sweep takes a list of values (a,b), range() or choice()")
        values = (
            override.sweep_string_iterator() if override.is_sweep_override() else [override.get_value_element_as_str()]
        )
        choices[key] = [f"{key}={value}" for value in values]
    varying = [override.get_key_element() for override in parsed if override.is_sweep_override()]
    return varying, [list(job) for job in itertools.product(*choices.values())]


def sweep_jobs(config: DictConfig) -> list[list[str]]:
    """Each job's overrides in a multirun of ``config`` (``hydra.sweeper.params`` included)."""
    return expand_sweep(sweep_arguments(config))[1]


def job_configs(config: DictConfig) -> list[DictConfig]:
    """Each job's config in a basic-sweeper multirun of ``config``, composed as Hydra's launcher composes it.

    Called inside the Hydra app, whose search path ``compose`` uses (the start checks, before the sweep).
    """
    from hydra import compose

    hydra, configs = config.hydra, []
    for job in sweep_jobs(config):
        job_config = compose(hydra.job.config_name, [*hydra.overrides.hydra, *job], return_hydra_config=True)
        OmegaConf.copy_cache(from_config=config, to_config=job_config)  # the same ${now:} as the sweep's
        configs.append(job_config)
    return configs


def varying_keys(arguments: list[str]) -> list[str]:
    """The override keys that take more than one value across the jobs the sweep expands to."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, values = OverridesParser.create(), defaultdict(set)
    for job in expand_sweep(arguments)[1]:
        for override in parser.parse_overrides(job):
            values[override.get_key_element()].add(override.get_value_element_as_str())
    return [key for key, seen in values.items() if len(seen) > 1]
