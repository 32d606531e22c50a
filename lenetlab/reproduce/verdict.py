"""A claim's verdict and the small helpers the checks share: runs by a swept value, percent formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lenetlab.report.runs import Run, fmt


@dataclass
class Verdict:
    """``measured`` as lenetlab's value (errors in percent), ``agrees`` yes | no | n/a, and ``why``: for a no,
    which part of the rule failed and by how much; for an n/a, what was not measured."""

    measured: str
    agrees: str
    why: str = ""


class NotMeasured(Exception):
    """Raised by a check whose data is missing; its message is the reason (``agrees`` becomes n/a)."""


def verdict(measured: str, failed: list[str]) -> Verdict:
    """Agrees when no part of the rule failed; otherwise ``why`` lists each failed part with its numbers."""
    return Verdict(measured, "no" if failed else "yes", "; ".join(failed))


def pp(value: float) -> str:
    """0.0123 -> ``1.23 pp`` (a difference of two errors, in percentage points)."""
    return f"{100 * value:.2f} pp"


def pct(value: float | None) -> str:
    """0.0123 -> ``1.23%``."""
    return "-" if value is None else f"{100 * value:.2f}%"


def by_value(runs: list[Run], key: str) -> dict:
    """The finished runs by their value of ``key`` (numbers compared as floats: 1e-4 == 0.0001)."""
    out = {}
    for run in runs:
        value = run.hparams.get(key)
        if value is not None and run.status == "finished":
            out[float(value) if isinstance(value, int | float) else value] = run
    return out


def pick(runs: list[Run], key: str, values: list, study: str) -> dict:
    """``{value: run}`` for each wanted value; NotMeasured naming the first missing one."""
    found = by_value(runs, key)
    picked = {}
    for value in values:
        wanted = float(value) if isinstance(value, int | float) else value
        if wanted not in found:
            raise NotMeasured(f"no finished {study} run with {key}={fmt(value)}")
        picked[wanted] = found[wanted]
    return picked


def final_error(run: Run) -> float:
    error = run.metrics()["val_error"]
    if error is None or not math.isfinite(error):
        raise NotMeasured("a run logged no validation error")
    return error


def error_at(run: Run, epoch: int) -> float:
    """Validation error after ``epoch`` epochs (1 = the first)."""
    errors = run.values("val/error")
    if len(errors) < epoch:
        raise NotMeasured(f"{len(errors)} epochs logged, {epoch} needed")
    return errors[epoch - 1]


def epoch_seconds(run: Run) -> float:
    """Steady-state training seconds per whole epoch (a run timed on part of each epoch: scaled up)."""
    seconds = run.metrics()["epoch_s"] or run.metrics()["first_epoch_s"]
    if seconds is None:
        raise NotMeasured("a run logged no epoch time")
    return seconds / run.epoch_fraction


def listing(values: dict, show) -> str:
    """``0.1: 1.08%, 0.01: 1.80%``."""
    return ", ".join(f"{fmt(key)}: {show(value)}" for key, value in values.items())
