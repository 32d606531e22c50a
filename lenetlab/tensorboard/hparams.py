"""TensorBoard's HParams tab: each run's values read off its config, and the sweep's experiment that puts the
swept keys first.

TensorBoard takes the columns from one experiment summary (the first it finds) and shows the five
first of them, those marked ``differs`` before the others. So a run writes only its session (its
values), and a sweep writes one experiment, into its first job's directory, that marks what the sweep varies.
"""

from __future__ import annotations

import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from lenetlab.config.sweeps import SWEEP_FILE, job_configs, sweep_arguments, varying_keys
from lenetlab.tensorboard import tensorboard_tag

# the metrics the HParams tab shows against the hparams (their last values), in this order
METRICS = ("val/error", "test/error", "val/acc", "test/acc", "val/loss", "train/loss", "time/train_epoch_s")
METRICS += ("time/fit_s",)


def _name(node) -> str:
    return node._target_.rsplit(".", 1)[-1] if node else "none"


def _widths(value) -> list:
    """A width or a list of widths (``model.filters``, ``model.hidden``) as a list; none: empty."""
    return [value] if isinstance(value, int) else list(value or [])


NO_CONVOLUTION = 0  # the filters and kernel_size of a network without convolutions (an MLP)


def config_hparams(cfg: DictConfig) -> dict:
    """Model, filters, kernel size, optimizer, lr, batch size... as scalars and strings.

    ``accelerator`` is the one asked for; a run replaces it with the device it got, and adds ``params``.
    """
    widths = _widths(cfg.model.get("filters"))
    return {
        "model": _name(cfg.model),
        "filters": (widths[0] if len(set(widths)) == 1 else "-".join(map(str, widths))) if widths else NO_CONVOLUTION,
        "kernel_size": cfg.model.get("kernel_size", NO_CONVOLUTION),
        "hidden": "-".join(map(str, _widths(cfg.model.get("hidden")))) or "none",
        "optimizer": _name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "momentum": cfg.optimizer.get("momentum", 0.0),
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": _name(cfg.get("scheduler")),
        "batch_size": cfg.data.batch_size,
        "augment": float(cfg.data.get("augment", 0.0)),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "dropout": cfg.model.get("dropout", 0.0),
        "max_epochs": cfg.trainer.max_epochs,
        "accelerator": cfg.trainer.accelerator,
        "precision": str(cfg.trainer.get("precision", 32)),
        "seed": cfg.seed,
    }


def _summary(tag: str, **data) -> Summary:
    plugin_data = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(**data))
    return Summary(value=[Summary.Value(tag=tag, metadata=plugin_data)])


def session_summaries(hparams: dict) -> list[Summary]:
    """A run's entry in the HParams tab: its values (``SessionStartInfo``) and that it ended.

    No group name: each run is its own row, named by its directory.
    """
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    for name, value in hparams.items():
        field = "bool_value" if isinstance(value, bool) else "number_value" if isinstance(value, int | float) else None
        setattr(start.hparams[name], field or "string_value", value if field else str(value))
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    return [
        _summary(metadata.SESSION_START_INFO_TAG, session_start_info=start),
        _summary(metadata.SESSION_END_INFO_TAG, session_end_info=end),
    ]


def _info(name: str, values: list, differs: bool) -> api_pb2.HParamInfo:
    # no discrete domain: the tab would hide a run whose value is not listed (accelerator auto -> cpu)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    kind = api_pb2.DATA_TYPE_FLOAT64 if numbers else api_pb2.DATA_TYPE_STRING
    return api_pb2.HParamInfo(name=name, type=kind, differs=differs)


def experiment_summary(jobs: list[dict], swept: list[str]) -> Summary:
    """The experiment of a sweep whose jobs have the hparams ``jobs`` and whose grid varies the keys ``swept``.

    The hparams a swept key names (``optimizer.lr`` -> ``lr``) are marked as differing, so they are the
    columns shown first; those that only follow from them (a swept ``model`` changes ``filters``) are not,
    unless no hparam is named by a swept key (``experiment=a,b``).
    """
    names = list(dict.fromkeys(name for job in jobs for name in job))
    differing = [name for name in names if len({repr(job.get(name)) for job in jobs}) > 1]
    marked = [name for name in differing if name in {key.rsplit(".", 1)[-1] for key in swept}] or differing
    infos = [_info(name, [job.get(name) for job in jobs], name in marked) for name in names]
    infos += [
        api_pb2.HParamInfo(name="params", type=api_pb2.DATA_TYPE_FLOAT64),
        api_pb2.HParamInfo(name="status", type=api_pb2.DATA_TYPE_STRING),
    ]
    infos.sort(key=lambda info: not info.differs)  # stable: the config's order otherwise
    tags = [tensorboard_tag(metric) for metric in METRICS]
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag) for tag in tags]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics, time_created_secs=time.time())
    return _summary(metadata.EXPERIMENT_TAG, experiment=experiment)


def write_summary(directory: Path, summary: Summary) -> None:
    """Write ``summary`` as the only event of a new event file in ``directory``."""
    writer = EventFileWriter(str(directory))
    writer.add_event(Event(wall_time=time.time(), step=0, summary=summary))
    writer.close()


class SweepExperiment(Callback):
    """Hydra callback: write the sweep's HParams experiment into its first job's directory as that job starts.

    TensorBoard takes the experiment from whichever run holds it; at the sweep's root it would show as an
    empty run named ``.``. Only for Hydra's basic sweeper (a grid known in advance); a resumed sweep keeps
    the experiment it has (sweeps written before this change hold it at their root).
    """

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        from hydra.types import RunMode

        hydra = config.hydra
        if hydra.mode != RunMode.MULTIRUN or hydra.job.num != 0 or not hydra.sweeper._target_.endswith("BasicSweeper"):
            return
        sweep_dir, job_dir = Path(str(hydra.sweep.dir)), Path(str(hydra.runtime.output_dir))
        if any(any(directory.glob("events.out.tfevents.*")) for directory in (sweep_dir, job_dir)):
            return
        sweep = OmegaConf.load(sweep_dir / SWEEP_FILE)  # the sweep's own config, written before its first job
        jobs = [config_hparams(job_config) for job_config in job_configs(sweep)]
        write_summary(job_dir, experiment_summary(jobs, varying_keys(sweep_arguments(sweep))))
