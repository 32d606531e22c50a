"""Job directories named by what the sweep varies (``optimizer.lr=0.1``), not by every override of the command.

``hydra.sweep.subdir: ${lenetlab.job_name:}`` in ``lenetlab/conf/train.yaml``. A job sees only its own overrides, so
the resolver reads the sweep's definition from the ``multirun.yaml`` that Hydra's sweeper writes into the
sweep directory before it launches any job; that works for every launcher, in this process or another.

The commands list :class:`JobNames` among their Hydra callbacks (``hydra.callbacks.job_names``), which registers
the resolver when a multirun starts; importing lenetlab registers nothing.
"""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lenetlab.config.sweeps import SWEEP_FILE, sweep_arguments, varying_keys

RESOLVER = "lenetlab.job_name"


def job_name(job_overrides: list[str], varying: list[str], number: int) -> str:
    """``key=value`` of the varying keys, sorted and comma-separated; the job number if nothing varies."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(job_overrides)
    return ",".join(sorted(o.input_line for o in parsed if o.get_key_element() in varying)) or str(number)


def _resolve(*, _root_: DictConfig) -> str:
    hydra = _root_.hydra
    sweep = OmegaConf.load(Path(str(hydra.sweep.dir)) / SWEEP_FILE)
    return job_name(list(hydra.overrides.task), varying_keys(sweep_arguments(sweep)), hydra.job.num)


class JobNames(Callback):
    """Hydra callback: ``${lenetlab.job_name:}`` for the jobs of a multirun.

    Registered in the launching process before the launcher starts; Hydra's joblib and submitit launchers hand the
    process's OmegaConf resolvers to each job with the rest of Hydra's state.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if not OmegaConf.has_resolver(RESOLVER):
            OmegaConf.register_new_resolver(RESOLVER, _resolve)
