"""Checks of the learning claims: which value is best, how fast and how far the runs learn.

Each check takes the measured results and the claim's ``args`` (lenetlab/conf/reports/) and returns a Verdict;
a missing study or run raises NotMeasured. Errors are final validation errors unless said otherwise.
"""

from __future__ import annotations

import itertools
import statistics

from lenetlab.report.runs import fmt
from lenetlab.reproduce.results import Measured
from lenetlab.reproduce.verdict import (
    NotMeasured,
    Verdict,
    by_value,
    error_at,
    final_error,
    listing,
    pct,
    pick,
    pp,
    verdict,
)


def _errors(m: Measured, study: str, key: str) -> dict:
    runs = by_value(m.finished(study), key)
    if not runs:
        raise NotMeasured(f"no finished {study} runs")
    return {value: final_error(run) for value, run in sorted(runs.items(), reverse=True)}


def _best(errors: dict, expected, tolerance_pp: float, where: str = "") -> tuple[object, list[str]]:
    """The value with the lowest error, and the failure if the expected one is not within ``tolerance_pp`` of it."""
    best = min(errors, key=errors.get)
    wanted = float(expected)
    if wanted not in errors:
        raise NotMeasured(f"no finished run with the reported value {fmt(expected)}")
    gap = errors[wanted] - errors[best]
    if gap <= tolerance_pp / 100:
        return best, []
    return best, [
        f"{where}{fmt(expected)} ends {pp(gap)} above the best, {fmt(best)} ({pct(errors[wanted])} against "
        f"{pct(errors[best])}; {tolerance_pp:g} pp allowed)"
    ]


def best_value(m: Measured, study: str, key: str, expected, tolerance_pp: float) -> Verdict:
    """The reported value is best: its final error within ``tolerance_pp`` of the lowest."""
    errors = _errors(m, study, key)
    best, failed = _best(errors, expected, tolerance_pp)
    return verdict(f"{fmt(best)} ({listing(errors, pct)})", failed)


def best_per_study(m: Measured, key: str, expected: dict, tolerance_pp: float) -> Verdict:
    """In each study the value it names is best (as ``best_value``)."""
    parts, failed = [], []
    for study, wanted in expected.items():
        best, missed = _best(_errors(m, study, key), wanted, tolerance_pp, f"{study}: ")
        parts.append(f"{study}: {fmt(best)}")
        failed += missed
    return verdict("best " + "; ".join(parts), failed)


def best_values(m: Measured, study: str, key: str, expected: list) -> Verdict:
    """The values with the lowest final errors are exactly ``expected``."""
    errors = _errors(m, study, key)
    top = sorted(errors, key=errors.get)[: len(expected)]
    wanted = [float(v) for v in expected]
    failed = [
        f"{fmt(value)} ({pct(errors[value])}) is not among the {len(wanted)} lowest, {fmt(ahead)} "
        f"({pct(errors[ahead])}) is"
        for value, ahead in zip([v for v in wanted if v not in top], [v for v in top if v not in wanted], strict=False)
    ]
    return verdict(listing(errors, pct), failed)


def best_increases(m: Measured, key: str, small: str, large: str) -> Verdict:
    """The best value in study ``large`` (larger batches) is higher than in study ``small``."""
    low, high = (min(e, key=e.get) for e in (_errors(m, small, key), _errors(m, large, key)))
    failed = [] if high > low else [f"the best {key} of {large}, {fmt(high)}, is not above {small}'s, {fmt(low)}"]
    return verdict(f"best {key}: {fmt(low)} ({small}), {fmt(high)} ({large})", failed)


def faster_when_higher(m: Measured, study: str, key: str, epoch: int) -> Verdict:
    """After ``epoch`` epochs the error falls as the value rises: never higher, and lower at the top.

    Rates too small to have left chance level yet tie there (both about 90 %), which is no contradiction.
    """
    runs = by_value(m.finished(study), key)
    if len(runs) < 2:
        raise NotMeasured(f"fewer than two finished {study} runs")
    errors = {value: error_at(run, epoch) for value, run in sorted(runs.items(), reverse=True)}
    failed = [
        f"{fmt(lower)} is ahead of {fmt(higher)} ({pct(errors[lower])} against {pct(errors[higher])})"
        for (higher, lower) in itertools.pairwise(errors)
        if errors[lower] < errors[higher]
    ]
    top, bottom = next(iter(errors)), list(errors)[-1]
    if errors[top] >= errors[bottom]:
        failed.append(
            f"the highest, {fmt(top)}, is not ahead of the lowest, {fmt(bottom)} "
            f"({pct(errors[top])} against {pct(errors[bottom])})"
        )
    return verdict(f"after {epoch} epoch(s): {listing(errors, pct)}", failed)


def converges_within(m: Measured, study: str, key: str, values: list, epochs: int, within_pp: float) -> Verdict:
    """Each run gets within ``within_pp`` of its final error by epoch ``epochs``."""
    reached = {}
    for value, run in pick(m.finished(study), key, values, study).items():
        errors, final = run.values("val/error"), final_error(run)
        reached[value] = next(i + 1 for i, e in enumerate(errors) if e <= final + within_pp / 100)
    failed = [f"{fmt(v)} only by epoch {epoch}, not {epochs}" for v, epoch in reached.items() if epoch > epochs]
    return verdict(f"epoch within {within_pp:g} pp of the final error: {listing(reached, str)}", failed)


def still_improving(
    m: Measured, study: str, key: str, value, last_epochs: int, min_drop_pp: float, min_gap_pp: float
) -> Verdict:
    """Far from the best run (``min_gap_pp``) and still falling by ``min_drop_pp`` over the last epochs."""
    runs = by_value(m.finished(study), key)
    (run,) = pick(m.finished(study), key, [value], study).values()
    errors = run.values("val/error")
    if len(errors) <= last_epochs:
        raise NotMeasured(f"{len(errors)} epochs logged, more than {last_epochs} needed")
    drop, final = errors[-last_epochs - 1] - errors[-1], final_error(run)
    best = min(final_error(r) for r in runs.values())
    failed = []
    if drop < min_drop_pp / 100:
        failed.append(f"it fell only {pp(drop)} in the last {last_epochs} epochs, under {min_drop_pp:g} pp")
    if final - best < min_gap_pp / 100:
        failed.append(f"it ends only {pp(final - best)} above the best run, under {min_gap_pp:g} pp")
    shown = f"final {pct(final)}, {pct(drop)} lower than {last_epochs} epochs before (best run {pct(best)})"
    return verdict(shown, failed)


def nearly_constant(m: Measured, study: str, key: str, values: list, max_change_pp: float) -> Verdict:
    """From the first epoch to the last each error changes by less than ``max_change_pp``."""
    changes = {}
    for value, run in pick(m.finished(study), key, values, study).items():
        changes[value] = (error_at(run, 1), final_error(run))
    failed = [
        f"{fmt(v)} changed by {pp(abs(first - last))}, not under {max_change_pp:g} pp"
        for v, (first, last) in changes.items()
        if abs(first - last) >= max_change_pp / 100
    ]
    return verdict(listing(changes, lambda c: f"{pct(c[0])} after epoch 1 -> {pct(c[1])}"), failed)


def slower_than(m: Measured, study: str, key: str, slow, fast, epochs: int) -> Verdict:
    """``slow`` has the higher error in each of the first ``epochs`` epochs."""
    runs = pick(m.finished(study), key, [slow, fast], study)
    s, f = runs[float(slow)], runs[float(fast)]
    pairs = [(error_at(s, e), error_at(f, e)) for e in range(1, epochs + 1)]
    shown = ", ".join(f"{pct(a)} vs {pct(b)}" for a, b in pairs)
    behind = [str(e) for e, (a, b) in enumerate(pairs, 1) if a <= b]
    failed = [f"{fmt(slow)} is not behind {fmt(fast)} in epoch {', '.join(behind)}"] if behind else []
    return verdict(f"epochs 1-{epochs}, {fmt(slow)} vs {fmt(fast)}: {shown}", failed)


def reaches_accuracy(m: Measured, study: str, key: str, values: list, accuracy: float, by_epoch: int) -> Verdict:
    """Each run's validation accuracy passes ``accuracy`` within ``by_epoch`` epochs."""
    reached = {v: 1 - error_at(run, by_epoch) for v, run in pick(m.finished(study), key, values, study).items()}
    failed = [f"{fmt(v)} at {pct(a)}, not above {pct(accuracy)}" for v, a in reached.items() if a <= accuracy]
    return verdict(f"accuracy after {by_epoch} epochs: {listing(reached, pct)}", failed)


def barely_learns(m: Measured, study: str, key: str, value, min_error: float) -> Verdict:
    """The run's final error is at least ``min_error`` (chance is 90 %)."""
    (run,) = pick(m.finished(study), key, [value], study).values()
    error = final_error(run)
    failed = [] if error >= min_error else [f"it ends at {pct(error)}, {pp(min_error - error)} under {pct(min_error)}"]
    return verdict(f"final error {pct(error)} ({len(run.values('val/error'))} epochs)", failed)


def max_accuracy(m: Measured, study: str, key: str, value, reported: float, tolerance_pp: float) -> Verdict:
    """The run's best validation accuracy is at most ``reported`` + ``tolerance_pp``."""
    (run,) = pick(m.finished(study), key, [value], study).values()
    best, limit = 1 - run.metrics()["best_val_error"], reported + tolerance_pp / 100
    failed = [] if best <= limit else [f"it reaches {pct(best)}, {pp(best - limit)} above {pct(limit)}"]
    return verdict(f"best validation accuracy {pct(best)}", failed)


def mean_test_accuracy(
    m: Measured, study: str, reported: float, tolerance_pp: float, where: dict | None = None
) -> Verdict:
    """Mean test accuracy of the finished runs (matching ``where``) within ``tolerance_pp`` of ``reported``."""
    runs = [r for r in m.finished(study) if all(r.hparams.get(k) == v for k, v in (where or {}).items())]
    accuracies = [1 - r.metrics()["test_error"] for r in runs if r.metrics()["test_error"] is not None]
    if not accuracies:
        raise NotMeasured(f"no finished {study} run with a test error")
    mean = statistics.mean(accuracies)
    shown = pct(mean) + (f" (mean of {len(accuracies)}: {', '.join(map(pct, accuracies))})" if len(runs) > 1 else "")
    off = mean - reported
    side = "above" if off > 0 else "below"
    failed = [f"{pp(abs(off))} {side} the reported {pct(reported)}, more than {tolerance_pp:g} pp"]
    return verdict(shown, failed if abs(off) > tolerance_pp / 100 else [])


def seed_spread(m: Measured, study: str, max_range_pp: float) -> Verdict:
    """The finished runs' test errors lie within ``max_range_pp`` of each other."""
    errors = [r.metrics()["test_error"] for r in m.finished(study) if r.metrics()["test_error"] is not None]
    if len(errors) < 2:
        raise NotMeasured(f"fewer than two finished {study} runs")
    spread = max(errors) - min(errors)
    measured = f"test error {pct(min(errors))} to {pct(max(errors))} over {len(errors)} seeds (range {pct(spread)})"
    failed = [f"the seeds' range is {pp(spread)}, over {max_range_pp:g} pp"] if spread > max_range_pp / 100 else []
    return verdict(measured, failed)


def better_model(m: Measured, study: str, key: str, better: str, worse: str) -> Verdict:
    """The ``better`` model has the lower test error."""
    runs = pick(m.finished(study), key, [better, worse], study)
    errors = {name: runs[name].metrics()["test_error"] for name in (better, worse)}
    if None in errors.values():
        raise NotMeasured(f"{study}: a run without a test error")
    params = {name: runs[name].hparams.get("params") for name in (better, worse)}
    shown = "; ".join(f"{name} {pct(1 - errors[name])} test accuracy, {params[name]:,} parameters" for name in errors)
    gap = errors[better] - errors[worse]
    failed = [] if gap < 0 else [f"{better}'s test error is {pp(gap)} above {worse}'s, not below"]
    return verdict(shown, failed)


def error_ratio(m: Measured, study: str, key: str, value, reference, min_ratio: float) -> Verdict:
    """The run's final error is at least ``min_ratio`` times the reference run's."""
    runs = pick(m.finished(study), key, [value, reference], study)
    a, b = final_error(runs[float(value)]), final_error(runs[float(reference)])
    ratio = f" ({a / b:.1f}x)" if b else ""
    failed = (
        [] if a >= min_ratio * b else [f"{fmt(value)}'s error is {a / b:.2f}x {fmt(reference)}'s, under {min_ratio:g}x"]
    )
    return verdict(f"{fmt(value)}: {pct(a)}, {fmt(reference)}: {pct(b)}{ratio}", failed)


def no_better(m: Measured, study: str, key: str, values: list, reference, max_gain_pp: float) -> Verdict:
    """No run's final error is lower than the reference's by more than ``max_gain_pp``."""
    runs = pick(m.finished(study), key, [*values, reference], study)
    base = final_error(runs[float(reference)])
    errors = {v: final_error(runs[float(v)]) for v in values}
    failed = [
        f"{fmt(v)} is {pp(base - e)} below {fmt(reference)}, more than {max_gain_pp:g} pp"
        for v, e in errors.items()
        if base - e > max_gain_pp / 100
    ]
    return verdict(f"{fmt(reference)}: {pct(base)}; " + listing(errors, pct), failed)
