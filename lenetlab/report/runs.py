"""Reading runs: TensorBoard curves and hparams, ``status.json``, and the Hydra config of jobs that never logged."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError

from lenetlab.run.status import STATUS_FILE, job_dirs, read_status
from lenetlab.tensorboard import metric_name

EVENTS = "events.out.tfevents.*"
SWEEP_FILE = "multirun.yaml"
NOT_SWEPT = ("params", "status")  # logged with the hparams, but results, not settings


@dataclass
class Run:
    """One job: where it is, how it ended, the hparams it ran with and its TensorBoard curves."""

    path: Path
    name: str
    status: str  # as in status.json (finished, diverged, failed, pruned...), or unfinished if it has none
    reason: str | None = None
    hparams: dict = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    recorded: dict = field(default_factory=dict)  # status.json's final metrics, for runs kept without event files
    epoch_fraction: float = 1.0  # the share of each training epoch it trained and timed (limit_train_batches)
    final: bool = False  # a search's final run: the best trial's values retrained on all training images, tested

    def values(self, tag: str) -> list[float]:
        return [value for _, value in self.curves.get(tag, [])]

    def metrics(self) -> dict[str, float | int | None]:
        """The summary numbers, taken from the logged curves; a number no curve holds from ``status.json``."""
        val, times = self.values("val/error"), self.values("time/train_epoch_s")
        finite = [v for v in val if math.isfinite(v)]
        logged = {
            "params": self.hparams.get("params"),
            "epochs": len(val) or None,
            "val_error": val[-1] if val else None,
            "best_val_error": min(finite, default=None),
            "test_error": (self.values("test/error") or [None])[-1],
            "first_epoch_s": times[0] if times else None,
            # the first epoch carries the warm-up; the steady state is the mean of the others (none after 1 epoch)
            "epoch_s": statistics.mean(times[1:]) if len(times) > 1 else None,
            "fit_s": (self.values("time/fit_s") or [None])[-1],
            **self.time_to_accuracy(),
        }
        recorded = {**self.recorded, "epoch_s": self.recorded.get("steady_epoch_s")}
        return {key: recorded.get(key) if value is None else value for key, value in logged.items()}

    def time_to_accuracy(self) -> dict[str, float | int | None]:
        """For 98% and 99% validation accuracy: the epochs trained and the fit's seconds when first reached."""
        found = {}
        for name in ("val_acc_98", "val_acc_99"):
            (step, seconds), *_ = self.curves.get(f"time/to_{name}_s") or [(None, None)]
            found |= {f"{name}_epochs": None if step is None else step + 1, f"{name}_s": seconds}
        return found

    @property
    def partly_timed(self) -> bool:
        """Whether its epochs were shortened (``trainer.limit_train_batches`` < 1), and so timed on part of one."""
        return self.epoch_fraction < 1.0

    def whole_epoch_s(self) -> float | None:
        """Steady-state training seconds per whole epoch: a partly timed epoch scaled up to a whole one."""
        seconds = self.metrics()["epoch_s"]
        return None if seconds is None else seconds / self.epoch_fraction

    def measured_fit_s(self) -> float | None:
        """The total training time, if the run trained whole epochs (a shortened run's total is no one's)."""
        return None if self.partly_timed else self.metrics()["fit_s"]


def find_run_dirs(root: Path) -> list[Path]:
    """Every run below ``root``: Hydra job dirs and any dir holding ``status.json`` or TensorBoard events."""
    marked = {p.parent for pattern in (STATUS_FILE, EVENTS) for p in root.glob(f"**/{pattern}")}
    dirs = marked | set(job_dirs(root))
    # a Hydra dir that only holds other runs (lenetlab.search's own) is not a run itself
    return sorted(d for d in dirs if d in marked or not any(d in other.parents for other in dirs))


def latest(outputs: Path) -> Path | None:
    """The most recently started sweep (a dir with ``multirun.yaml``), search or single run under ``outputs``."""
    sweeps = {p.parent: p for p in outputs.glob(f"**/{SWEEP_FILE}")}
    jobs = set(job_dirs(outputs))
    # a job inside a sweep or inside another job (a search's trials) belongs to that one
    singles = {job: job / ".hydra" for job in jobs if not (sweeps.keys() | jobs) & set(job.parents)}
    # Hydra writes these at the start; the dir itself changes when a report is written into it
    started = {top: marker.stat().st_mtime for top, marker in {**sweeps, **singles}.items()}
    return max(started, key=started.get) if started else None


def load_runs(roots: list[Path]) -> list[Run]:
    """Every run below the given dirs, named by its path (relative to its root; prefixed by the root if several)."""
    runs = []
    for root in roots:
        for path in find_run_dirs(root):
            name = path.relative_to(root).as_posix() if path != root else root.name
            run = read_run(path, f"{root.name}/{name}" if len(roots) > 1 and path != root else name)
            # lenetlab.search's final/ (written after best.yaml): not one more trial
            run.final = path == root / "final" and (root / "best.yaml").is_file()
            runs.append(run)
    return runs


def read_run(path: Path, name: str) -> Run:
    """One run: its curves and hparams from the event files, else from ``status.json`` or ``.hydra/config.yaml``."""
    record = read_status(path)
    curves, logged = read_events(path)
    recorded = (record or {}).get("hparams") or {}
    hparams = logged or recorded or config_hparams(path)
    hparams = {key: hparams[key] for key in sorted(hparams, key=[*recorded, *hparams].index)}  # as status.json has them
    hparams.pop("status", None)
    fraction = epoch_fraction(path)
    if record is None:
        return Run(path, name, "unfinished", "no status.json: still running, or killed", hparams, curves, {}, fraction)
    recorded = record.get("metrics") or {}
    return Run(path, name, record["status"], record.get("reason"), hparams, curves, recorded, fraction)


def _train_images(cfg) -> int | None:
    """How many images the run's data directory holds for training, None if it cannot be read."""
    from lenetlab.data.idx import IMAGES_MAGIC, IdxFormatError, check_idx_file
    from lenetlab.data.mnist import default_data_root

    try:
        root = OmegaConf.select(cfg, "data.root", default=None)
        images = Path(root or default_data_root()) / "MNIST" / "raw" / "train-images-idx3-ubyte"
        count = check_idx_file(images, IMAGES_MAGIC)[0]
    except (OSError, IdxFormatError, InterpolationResolutionError):
        return None
    return count if OmegaConf.select(cfg, "data.full_train", default=False) else count - cfg.data.val_size


def epoch_fraction(path: Path) -> float:
    """The share of each training epoch a run trained, from its saved ``trainer.limit_train_batches`` and data
    (as Lightning counts it: ``int(batches x fraction)`` batches, or the number given); 1.0 for whole epochs."""
    config = path / ".hydra" / "config.yaml"
    if not config.is_file():
        return 1.0
    cfg = OmegaConf.load(config)
    limit = OmegaConf.select(cfg, "trainer.limit_train_batches", default=None)
    if limit is None or isinstance(limit, bool) or (isinstance(limit, float) and limit >= 1.0):
        return 1.0
    images = _train_images(cfg)
    if images is None:  # the data is gone: the fraction asked for, as an estimate
        return float(limit) if isinstance(limit, float) else 1.0
    batches = math.ceil(images / cfg.data.batch_size)
    timed = int(batches * limit) if isinstance(limit, float) else min(int(limit), batches)
    return max(timed, 1) / batches


def read_events(path: Path) -> tuple[dict[str, list[tuple[int, float]]], dict]:
    """The scalar curves by metric name (one value per step, the last written wins) and the HParams of a run dir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    if not any(path.glob(EVENTS)):
        return {}, {}
    # a resumed run's writer marks its restart step; the accumulator drops the orphaned points after it
    events = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    points: dict[str, dict[int, float]] = {}
    # a metric's points under its old tag (a run resumed after the tags were renamed) first, the new tag's win
    for tag in events.Tags()["scalars"]:
        points.setdefault(metric_name(tag), {}).update((e.step, e.value) for e in events.Scalars(tag))
    curves = {metric: sorted(values.items()) for metric, values in points.items()}
    try:
        session = events.PluginTagToContent("hparams").get(metadata.SESSION_START_INFO_TAG)
    except KeyError:  # no hparams logged (yet)
        session = None
    values = metadata.parse_session_start_info_plugin_data(session).hparams if session else {}
    hparams = {key: _plain(value) for key, value in values.items()}
    return curves, hparams


def _plain(value) -> float | int | str | bool | None:
    """A protobuf ``Value`` as a Python scalar (whole numbers as int)."""
    kind = value.WhichOneof("kind")
    plain = getattr(value, kind) if kind else None
    return int(plain) if isinstance(plain, float) and plain.is_integer() else plain


def config_hparams(path: Path) -> dict:
    """The hparams a job would have logged, from its saved Hydra config (for jobs that never logged them).

    No parameter count (that needs the network); the accelerator is the one asked for, "auto" names none.
    """
    from lenetlab.tensorboard.hparams import config_hparams as from_config

    config = path / ".hydra" / "config.yaml"
    if not config.is_file():
        return {}
    try:
        hparams = from_config(OmegaConf.load(config))
    except Exception:  # a config from another version of lenetlab: report the run without its values
        return {}
    # whole numbers as int, as read back from the event files (_plain): 0.0 and 0 are one value, not two
    hparams = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in hparams.items()}
    return {**hparams, "accelerator": None if hparams["accelerator"] == "auto" else hparams["accelerator"]}


def varying(runs: list[Run]) -> list[str]:
    """The hparams whose values differ between the runs, in logging order."""
    keys = list(dict.fromkeys(key for run in runs for key in run.hparams))
    known = [run.hparams for run in runs if run.hparams]
    # a value missing from some runs (a job that never logged, a network without that key) does not make a key vary
    values = {key: {repr(h[key]) for h in known if h.get(key) is not None} for key in keys}
    return [k for k in keys if k not in NOT_SWEPT and len(values[k]) > 1]


def in_order(runs: list[Run], keys: list[str]) -> list[Run]:
    """Sorted by the varying values (numbers as numbers), then by name."""

    def rank(run: Run) -> tuple:
        values = [run.hparams.get(key) for key in keys]
        return (*((0, v) if isinstance(v, int | float) else (1, str(v)) for v in values), run.name)

    return sorted(runs, key=rank)


def fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(hparams: dict, keys: list[str]) -> str:
    """``lr=0.1, filters=16``: the given keys' values."""
    return ", ".join(f"{key}={fmt(hparams.get(key))}" for key in keys)
