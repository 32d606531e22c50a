"""TensorBoard's HParams tab: each run's values, and the sweep's experiment that puts the swept keys first.

TensorBoard takes the columns from one experiment summary (the first it finds) and shows the five
first of them, those marked ``differs`` before the others. So a run writes only its session (its
values), and a sweep writes one experiment at its root that marks what the sweep varies.
"""

from __future__ import annotations

import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams.summary_v2 import hparams_pb
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from lenetlab.hparams import config_hparams
from lenetlab.job_names import sweep_arguments

# the curves the HParams tab shows against the hparams, in this order
METRICS = ("val/error", "test/error", "val/acc", "test/acc", "val/loss", "train/loss", "time/train_epoch_s")
METRICS += ("time/fit_s",)
STATUSES = ("finished", "diverged", "pruned", "failed", "interrupted")


def _summary(tag: str, **data) -> Summary:
    plugin_data = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(**data))
    return Summary(value=[Summary.Value(tag=tag, metadata=plugin_data)])


def session_summaries(hparams: dict) -> list[Summary]:
    """A run's entry in the HParams tab: its values (``SessionStartInfo``) and that it ended."""
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    return [hparams_pb(hparams), _summary(metadata.SESSION_END_INFO_TAG, session_end_info=end)]


def _info(name: str, values: list) -> api_pb2.HParamInfo:
    info = api_pb2.HParamInfo(name=name, differs=len({repr(v) for v in values}) > 1)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        info.type = api_pb2.DATA_TYPE_FLOAT64
    else:
        info.type = api_pb2.DATA_TYPE_STRING
        info.domain_discrete.extend(sorted({str(v) for v in values}))
    return info


def experiment_summary(jobs: list[dict], model_differs: bool) -> Summary:
    """The experiment of a sweep whose jobs have the hparams ``jobs``: those that differ come first.

    ``params`` (the parameter count, known once a job builds its network) differs with the model's config.
    """
    names = list(dict.fromkeys(name for job in jobs for name in job))
    infos = [_info(name, [job.get(name) for job in jobs]) for name in names]
    infos.append(api_pb2.HParamInfo(name="params", type=api_pb2.DATA_TYPE_FLOAT64, differs=model_differs))
    status = api_pb2.HParamInfo(name="status", type=api_pb2.DATA_TYPE_STRING)
    status.domain_discrete.extend(STATUSES)
    infos = sorted([*infos, status], key=lambda info: not info.differs)  # stable: config order otherwise
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag) for tag in METRICS]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics, time_created_secs=time.time())
    return _summary(metadata.EXPERIMENT_TAG, experiment=experiment)


def write_summary(directory: Path, summary: Summary) -> None:
    """Write ``summary`` as the only event of a new event file in ``directory``."""
    writer = EventFileWriter(str(directory))
    writer.add_event(Event(wall_time=time.time(), step=0, summary=summary))
    writer.close()


class SweepExperiment(Callback):
    """Hydra callback: write the sweep's HParams experiment into the sweep directory when the sweep starts.

    Only for Hydra's basic sweeper (a grid known in advance); a resumed sweep keeps the one it has.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        if not config.hydra.sweeper._target_.endswith("BasicSweeper"):
            return
        sweep_dir = Path(str(config.hydra.sweep.dir))
        if any(sweep_dir.glob("events.out.tfevents.*")):
            return
        from hydra.core.global_hydra import GlobalHydra

        from lenetlab.validation import expand_sweep

        loader = GlobalHydra.instance().config_loader()
        jobs = [loader.load_sweep_config(config, job) for job in expand_sweep(sweep_arguments(config))[1]]
        models = {repr(OmegaConf.to_container(job.model, resolve=True)) for job in jobs}
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_summary(sweep_dir, experiment_summary([config_hparams(job) for job in jobs], len(models) > 1))
