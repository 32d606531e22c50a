"""The small ``status.json`` each job writes at its end, the sweep summary built from them, and Ctrl-C.

Ctrl-C and SIGTERM are a state, not a crash: the run records ``interrupted``, a sweep stops, exit status 130.

During ``fit`` and ``test`` Lightning catches the interruption itself (``trainer.interrupted``), calls
the callbacks' ``on_exception`` and ends with ``SystemExit``; ``lenetlab.train`` turns that back into
KeyboardInterrupt, records the run and exits with 130.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lenetlab.output import percent
from lenetlab.output.atomic import atomic_write_text

STATUS_FILE = "status.json"


def write_status(job_dir: Path, status: str, **fields) -> None:
    """Write ``status.json`` atomically, with the job's status and whatever ``fields`` say."""
    atomic_write_text(Path(job_dir) / STATUS_FILE, json.dumps({"status": status, **fields}, indent=2, default=str))


def read_status(job_dir: Path) -> dict | None:
    """The job's status record, or None if it never finished (or never started)."""
    path = Path(job_dir) / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def job_dirs(sweep_dir: Path) -> list[Path]:
    """Every job directory of a sweep (each holds a ``.hydra`` folder), in a stable order."""
    return sorted({p.parent for p in Path(sweep_dir).glob("**/.hydra")})


def in_value_order(name: str) -> list[tuple[int, float, str]]:
    """A sort key for job names: their numbers as numbers (``model.filters=8`` before ``=16``), the rest as text."""
    key = []
    for part in re.split(r"([=,/])", name):
        try:
            key.append((0, float(part), ""))
        except ValueError:
            key.append((1, 0.0, part))
    return key


def summarize(sweep_dir: Path) -> tuple[str, int]:
    """A one-screen table of the jobs of a sweep, in the order of their values, and how many failed or never
    finished."""
    rows, bad = [], 0
    for job in job_dirs(sweep_dir):
        record = read_status(job) or {"status": "unfinished"}
        status = record["status"]
        bad += status in ("failed", "unfinished", "interrupted")
        metrics = record.get("metrics") or {}
        best = metrics.get("best_val_error")
        detail = f"best val error {percent(best)}" if isinstance(best, float) else record.get("reason", "")
        name = job.relative_to(sweep_dir).as_posix() if job != Path(sweep_dir) else "."
        rows.append((status, name, detail))
    rows.sort(key=lambda row: in_value_order(row[1]))
    width = max([40, *(len(name) for _, name, _ in rows)])
    lines = [f"  {status:<10} {name:<{width}} {detail}" for status, name, detail in rows]
    header = f"sweep {sweep_dir}: {len(lines)} jobs, {len(lines) - bad} finished or diverged, {bad} failed"
    return "\n".join([header, *lines]), bad


class SweepSummary(Callback):
    """Hydra callback: print the summary when a multirun ends; exit 1 if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        text, bad = summarize(Path(config.hydra.sweep.dir))
        print(text, file=sys.stderr if bad else sys.stdout, flush=True)
        if bad:
            sys.exit(1)


EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a program stopped by Ctrl-C


def sigterm_as_interrupt() -> None:
    """Let SIGTERM stop this process as Ctrl-C does, unless something else (a cluster launcher) handles it."""
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


CONTINUE_RUN = "run the same command with resume=true to continue"
CONTINUE_SEARCH = "run the same command to continue the search"  # a search resumes its study by itself


def interrupted_reason(last_epoch: int | None, to_continue: str = CONTINUE_RUN) -> str:
    """The ``reason`` of an interrupted run: how far it got and how to continue it."""
    where = f"after epoch {last_epoch}" if last_epoch is not None else "before its first checkpoint"
    return f"interrupted {where} (Ctrl-C or SIGTERM): {to_continue}"
