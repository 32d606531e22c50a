"""What the studies measured, read back from their directories (never from job directory names).

Runs are read by ``lenetlab.report`` (event files, ``status.json``, ``.hydra/config.yaml``); the search by
its documented outputs (``trials.csv``, ``final.json``); the parameter counts from ``params/params.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from lenetlab.report.runs import Run, load_runs

GPU_SWEEPS = {"learning_rate_gpu": "learning_rate", "filters_runtime_gpu": "filters_runtime"}
BENCHMARK = "benchmark_cuda.json"


@dataclass
class Measured:
    """Everything the claims are checked against."""

    runs: dict[str, list[Run]] = field(default_factory=dict)  # study -> its runs (finished or not)
    params: dict[str, dict] | None = None  # model name -> {"total", "conv", "fc", "layers"}
    trials: list[dict] | None = None  # the search's trials.csv
    final: dict | None = None  # the search's final.json
    benchmark: dict | None = None  # scripts/benchmark.py --json on CUDA
    gpu_source: str | None = None  # where the GPU results come from
    fractions: dict[str, float] = field(default_factory=dict)  # study -> fraction of an epoch timed

    def finished(self, study: str) -> list[Run]:
        return [run for run in self.runs.get(study, []) if run.status == "finished"]


def epoch_fraction(run: Run, train_images: int | None) -> float:
    """The fraction of a whole training epoch the run timed (``trainer.limit_train_batches``), from its config."""
    config = run.path / ".hydra" / "config.yaml"
    if not config.is_file():
        return 1.0
    cfg = OmegaConf.load(config)
    limit = OmegaConf.select(cfg, "trainer.limit_train_batches", default=1.0)
    if limit == 1.0 or limit is None:
        return 1.0
    if train_images is None:  # an estimate from the fraction alone
        return float(limit) if isinstance(limit, float) else 1.0
    batches = math.ceil((train_images - cfg.data.val_size) / cfg.data.batch_size)
    timed = int(batches * limit) if isinstance(limit, float) else min(int(limit), batches)
    return max(timed, 1) / batches


def whole_epochs(run: Run, fraction: float) -> Run:
    """The run with its epoch times scaled to whole epochs (its total, which includes validation, dropped)."""
    if fraction == 1.0:
        return run
    curves = {tag: points for tag, points in run.curves.items() if tag != "time/fit_s"}
    curves["time/train_epoch_s"] = [(step, s / fraction) for step, s in run.curves.get("time/train_epoch_s", [])]
    return dataclasses.replace(run, curves=curves)


def read_sweep(path: Path, train_images: int | None, accelerator: str | None = None) -> tuple[list[Run], float]:
    """The runs of a sweep directory (only those on ``accelerator`` if given), timed per whole epoch."""
    if not path.is_dir():
        return [], 1.0
    runs = [r for r in load_runs([path]) if accelerator is None or r.hparams.get("accelerator") == accelerator]
    fractions = [epoch_fraction(run, train_images) for run in runs]
    return [whole_epochs(r, f) for r, f in zip(runs, fractions, strict=True)], min(fractions, default=1.0)


def read_measured(out: Path, names: list[str], gpu_results: Path | None, train_images: int | None) -> Measured:
    """Every study's results under ``out``; the GPU sweeps from ``gpu_results`` when given."""
    measured = Measured()
    for name in names:
        study_dir = out / name
        if name == "params" and (study_dir / "params.json").is_file():
            measured.params = json.loads((study_dir / "params.json").read_text())
        elif name == "search":
            if (study_dir / "trials.csv").is_file():
                measured.trials = list(csv.DictReader((study_dir / "trials.csv").open()))
            if (study_dir / "final.json").is_file():
                measured.final = json.loads((study_dir / "final.json").read_text())
            measured.runs[name] = load_runs([study_dir]) if study_dir.is_dir() else []
        elif name != "params":
            accelerator = "gpu" if name in GPU_SWEEPS else None
            runs, fraction = read_sweep(study_dir, train_images, accelerator)
            measured.runs[name] = runs
            if fraction < 1.0:
                measured.fractions[name] = fraction
            if runs and name in GPU_SWEEPS:
                measured.gpu_source = str(out)
    if gpu_results is not None:
        for name, sweep in GPU_SWEEPS.items():
            runs, _ = read_sweep(gpu_results / sweep, train_images, "gpu")
            if runs:
                measured.runs[name] = runs
        if (gpu_results / BENCHMARK).is_file():
            measured.benchmark = json.loads((gpu_results / BENCHMARK).read_text())
        measured.gpu_source = str(gpu_results)
    return measured
