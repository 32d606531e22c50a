"""Write the reproduction: ``claims.csv``, the figures (lenetlab.report's, one set per study) and ``REPRODUCTION.md``."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from omegaconf import DictConfig

from lenetlab.output.atomic import atomic_write_text
from lenetlab.output.figures import save_figure
from lenetlab.report import Run, write_report
from lenetlab.report.figures import FIGURES
from lenetlab.reproduce.claims import COLUMNS
from lenetlab.reproduce.results import Measured

PACKAGES = ("torch", "lightning", "hydra-core", "optuna", "tensorboard")


def write_claims_csv(path: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def write_figures(measured: Measured, figures: Path) -> list[str]:
    """One set of figures per study (GPU runs drawn with the CPU ones); return ``study/file`` of each written."""
    written = []
    for study, runs in measured.runs.items():
        if study == "filters_runtime_gpu":
            continue
        if study == "filters_runtime":  # CPU and GPU in one figure: one line per accelerator
            runs = runs + measured.runs.get("filters_runtime_gpu", [])
        if runs:
            files = write_report(runs, figures / study)
            written += [f"{study}/{p.name}" for p in files if p.suffix == ".png"]
    if measured.params:
        written += _params_figure(measured.params, figures / "params")
    return written


def _params_figure(counts: dict, out: Path) -> list[str]:
    runs = [
        Run(
            out,
            name,
            "finished",
            hparams={"model": "LeNet", "filters": int(name.rsplit("_", 1)[1]), "params": c["total"]},
        )
        for name, c in counts.items()
        if name.rsplit("_", 1)[-1].isdigit()
    ]
    figure = FIGURES["params"](runs, ["filters"]) if len(runs) > 1 else None
    if figure is None:
        return []
    return [f"params/{path.name}" for path in save_figure(figure, out, "params")]


def _command(cfg: DictConfig) -> str:
    """The command line that made this reproduction (its overrides as Hydra recorded them)."""
    from hydra.core.hydra_config import HydraConfig

    overrides = HydraConfig.get().overrides.task if HydraConfig.initialized() else [f"profile={cfg.profile.name}"]
    return " ".join(["python -m lenetlab.reproduce", *overrides])


def _versions() -> str:
    found = []
    for package in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{package} {version(package)}")
    return f"Python {platform.python_version()}, " + ", ".join(found)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _table(rows: list[dict]) -> list[str]:
    lines = ["| claim | reported | lenetlab | agrees |", "|---|---|---|---|"]
    for row in rows:
        agrees = f"{row['agrees']} ({row['why']})" if row["why"] else row["agrees"]
        cells = (row["claim"], row["reported"], row["measured"], agrees)
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return lines


def _paragraph(rows: list[dict]) -> str:
    """The verdicts in words: how many agree, and each disagreement with its likely cause."""
    count = {a: sum(r["agrees"] == a for r in rows) for a in ("yes", "no", "n/a")}
    text = f"Of {len(rows)} claims, {count['yes']} agree, {count['no']} disagree and {count['n/a']} were not measured."
    agreed = [r["claim"] for r in rows if r["agrees"] == "yes"]
    if agreed:
        text += " Reproduced: " + "; ".join(agreed) + "."
    for row in rows:
        if row["agrees"] == "no":
            text += f" *{row['claim']}*: the report says {row['reported']}, lenetlab measures {row['measured']}"
            text += f" ({row['why']})" if row["why"] else ""
            text += f"; likely cause: {row['cause']}." if row["cause"] else "."
    missing = {r["why"] for r in rows if r["agrees"] == "n/a"}
    if missing:
        text += " Not measured: " + "; ".join(sorted(missing)) + "."
    return text


def study_status(record: dict) -> str:
    """``done: 50 trials; interrupted once (after 4.1 min, at 23 trials) and resumed``, from a study's record."""
    unit = "trials" if (record.get("command") or [""])[0] == "lenetlab.search" else "runs finished"
    text = record["status"]
    if record.get("progress") is not None:
        text += f": {record['progress']} {unit}"
    stops = record.get("interruptions") or []
    if stops:
        times = "once" if len(stops) == 1 else f"{len(stops)} times"
        at = ", ".join(
            f"after {s['after_s'] / 60:.1f} min"
            + (f", at {s['progress']} {unit}" if s.get("progress") is not None else "")
            for s in stops
        )
        text += f"; interrupted {times} ({at}) and resumed"
    return text


def write_paper(path: Path, cfg: DictConfig, rows: list[dict], timings: dict[str, dict], figures: list[str]) -> None:
    """REPRODUCTION.md: the setting (machine, date, versions, wall time per study), then one section per report."""
    gpu = timings.pop("_gpu", None)
    lines = [
        "# Reproducing the five lab reports with lenetlab",
        "",
        f"- **Machine**: {_cpu()}, {os.cpu_count()} cores; GPU: {gpu or 'none'}",
        f"- **Date**: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- **Versions**: {_versions()}",
        f"- **Profile**: `{cfg.profile.name}`"
        + ("" if cfg.profile.comparable else " - a smoke run: **its numbers are not comparable** with the reports'"),
        f"- **Command**: `{_command(cfg)}`",
        "",
        "| study | status | wall time | command |",
        "|---|---|---|---|",
    ]
    for study, t in timings.items():
        wall = f"{t['wall_s'] / 60:.1f} min" if t.get("wall_s") is not None else "-"
        command = f"`{' '.join(t['command'])}`" if t.get("command") else "-"
        lines.append(f"| {study} | {study_status(t)} | {wall} | {command} |")
    total = sum(t.get("wall_s") or 0 for t in timings.values())
    lines += ["", f"Total wall time of the studies: {total / 60:.1f} min.", ""]
    lines += [
        "`agrees` is decided by the rule written in each claim (its tolerance in `lenetlab/conf/reports/lab_reports.yaml`,",
        "the check in `lenetlab/reproduce/*_checks.py`); errors are validation errors after the last epoch unless",
        "the claim says test. Runtimes are steady-state training seconds per whole epoch; CPU epochs timed on a",
        "fraction of the epoch are scaled up to a whole one. `claims.csv` holds the same rows.",
    ]
    for number, report in cfg.reports.items():
        own = [r for r in rows if r["report"] == number]
        lines += ["", f"## Report {number}: {report.title}", "", f"Setting: {report.setting}"]
        if report.get("instead"):
            lines += ["", f"What ran instead: {report.instead}"]
        lines += ["", *_table(own), ""]
        lines += [f"![{name}](figures/{name})" for name in report.figures if name in figures]
        lines += ["", _paragraph(own)]
    atomic_write_text(path, "\n".join(lines) + "\n")
