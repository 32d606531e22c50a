"""What the studies measured, read back from their directories (never from job directory names).

Runs are read by ``lenetlab.report`` (event files, ``status.json``, ``.hydra/config.yaml``); the search by
its documented outputs (``trials.csv``, ``final.json``); the parameter counts from ``params/params.json``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

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

    def finished(self, study: str) -> list[Run]:
        return [run for run in self.runs.get(study, []) if run.status == "finished"]

    def epoch_fraction(self, study: str) -> float:
        """The smallest share of an epoch a run of ``study`` was timed on (1.0: whole epochs)."""
        return min((run.epoch_fraction for run in self.runs.get(study, [])), default=1.0)


def read_sweep(path: Path, accelerator: str | None = None) -> list[Run]:
    """The runs of a sweep directory (only those on ``accelerator`` if given)."""
    if not path.is_dir():
        return []
    return [r for r in load_runs([path]) if accelerator is None or r.hparams.get("accelerator") == accelerator]


def read_measured(out: Path, names: list[str], gpu_results: Path | None) -> Measured:
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
            runs = read_sweep(study_dir, accelerator)
            measured.runs[name] = runs
            if runs and name in GPU_SWEEPS:
                measured.gpu_source = str(out)
    if gpu_results is not None:
        for name, sweep in GPU_SWEEPS.items():
            runs = read_sweep(gpu_results / sweep, "gpu")
            if runs:
                measured.runs[name] = runs
        if (gpu_results / BENCHMARK).is_file():
            measured.benchmark = json.loads((gpu_results / BENCHMARK).read_text())
        measured.gpu_source = str(gpu_results)
    return measured
