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
METRICS += ("time/fit_s", "time/to_val_acc_98_s", "time/to_val_acc_99_s")


def _name(node) -> str:
    return node._target_.rsplit(".", 1)[-1] if node else "none"


def _scalar(value):
    """A config value as one HParams value: a list of one repeated width (``[16, 16]``) is that width, another
    list its items joined (``300-100``), an empty list or null ``none``."""
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return value[0] if len(value) > 1 and len(set(map(repr, value))) == 1 else "-".join(map(str, value)) or "none"
    return value if isinstance(value, bool | int | float | str) else str(value)


def model_hparams(model: DictConfig) -> dict:
    """The network's own config keys (``width``, or the LeNet's ``filters``, ``kernel_size``...) and their values;
    Hydra's keys (``_target_``...) aside, nested keys dotted (``block.width``)."""

    def flat(node: dict, prefix: str) -> dict:
        values = {}
        for key, value in node.items():
            if isinstance(value, dict):
                values |= flat(value, f"{prefix}{key}.")
            elif not str(key).startswith("_"):
                values[f"{prefix}{key}"] = _scalar(value)
        return values

    return flat(OmegaConf.to_container(model, resolve=True), "")


def training_hparams(cfg: DictConfig) -> dict:
    """How the network is trained: the keys of :data:`TRAINING`, which every run records."""
    return {
        "optimizer": _name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "momentum": cfg.optimizer.get("momentum", 0.0),
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": _name(cfg.get("scheduler")),
        "batch_size": cfg.data.batch_size,
        "augment": float(cfg.data.get("augment", 0.0)),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "max_epochs": cfg.trainer.max_epochs,
        "accelerator": cfg.trainer.accelerator,
        "precision": str(cfg.trainer.get("precision", 32)),
        "seed": cfg.seed,
    }


TRAINING = ("optimizer", "lr", "momentum", "weight_decay", "scheduler", "batch_size", "augment", "label_smoothing")
TRAINING += ("max_epochs", "accelerator", "precision", "seed")  # the other hparams are the network's, and params


def config_hparams(cfg: DictConfig) -> dict:
    """The network's class and own keys, then how it is trained (optimizer, lr, batch size...): scalars and strings.

    A key of the network named as one of :data:`TRAINING` (or ``params``, ``status``) is recorded as
    ``model.<key>``. ``accelerator`` is the one asked for; a run replaces it with the device it got, and adds
    ``params``.
    """
    training = training_hparams(cfg)
    taken = {"model", "params", "status", *training}
    model = {f"model.{key}" if key in taken else key: value for key, value in model_hparams(cfg.model).items()}
    return {"model": _name(cfg.model), **model, **training}


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
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None)
    kind = api_pb2.DATA_TYPE_FLOAT64 if numbers else api_pb2.DATA_TYPE_STRING
    return api_pb2.HParamInfo(name=name, type=kind, differs=differs)


def experiment_summary(jobs: list[dict], swept: list[str]) -> Summary:
    """The experiment of a sweep whose jobs have the hparams ``jobs`` and whose grid varies the keys ``swept``.

    The hparams a swept key names (``optimizer.lr`` -> ``lr``, ``model.width`` -> ``width``) are marked as
    differing, so they are the columns shown first; those that only follow from them (a swept ``model``
    changes ``filters``) are not, unless no hparam is named by a swept key (``experiment=a,b``).
    """
    names = list(dict.fromkeys(name for job in jobs for name in job))
    differing = [name for name in names if len({repr(job.get(name)) for job in jobs}) > 1]
    named = [name for name in differing if any(key == name or key.endswith(f".{name}") for key in swept)]
    marked = named or differing
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
    the experiment it has.
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
