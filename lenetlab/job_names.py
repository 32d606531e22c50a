"""Job directories named by what the sweep varies (``optimizer.lr=0.1``), not by every override of the command.

``hydra.sweep.subdir: ${lenetlab.job_name:}`` in ``lenetlab/conf/train.yaml``. A job sees only its own overrides, so
the resolver reads the sweep's definition from the ``multirun.yaml`` that Hydra's sweeper writes into the
sweep directory before it launches any job; that works for every launcher, in this process or another.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

RESOLVER = "lenetlab.job_name"
SWEEP_FILE = "multirun.yaml"


def sweep_arguments(config: DictConfig) -> list[str]:
    """A sweep's grid as Hydra's basic sweeper reads it: ``hydra.sweeper.params``, then the command line's."""
    params = config.hydra.sweeper.get("params") or {}
    return [f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task)


def varying_keys(arguments: list[str]) -> list[str]:
    """The override keys that take more than one value across the jobs the sweep expands to."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from lenetlab.validation import expand_sweep

    parser, values = OverridesParser.create(), defaultdict(set)
    for job in expand_sweep(arguments)[1]:
        for override in parser.parse_overrides(job):
            values[override.get_key_element()].add(override.get_value_element_as_str())
    return [key for key, seen in values.items() if len(seen) > 1]


def job_name(job_overrides: list[str], varying: list[str], number: int) -> str:
    """``key=value`` of the varying keys, sorted and comma-separated; the job number if nothing varies."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(job_overrides)
    return ",".join(sorted(o.input_line for o in parsed if o.get_key_element() in varying)) or str(number)


def _resolve(*, _root_: DictConfig) -> str:
    hydra = _root_.hydra
    sweep = OmegaConf.load(Path(str(hydra.sweep.dir)) / SWEEP_FILE)
    return job_name(list(hydra.overrides.task), varying_keys(sweep_arguments(sweep)), hydra.job.num)


def register() -> None:
    """Make ``${lenetlab.job_name:}`` available (done when lenetlab is imported)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, _resolve)
