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
    verdict,
)


def _errors(m: Measured, study: str, key: str) -> dict:
    runs = by_value(m.finished(study), key)
    if not runs:
        raise NotMeasured(f"no finished {study} runs")
    return {value: final_error(run) for value, run in sorted(runs.items(), reverse=True)}


def _best(errors: dict, expected, tolerance_pp: float) -> tuple[object, bool]:
    best = min(errors, key=errors.get)
    wanted = float(expected)
    if wanted not in errors:
        raise NotMeasured(f"no finished run with the reported value {fmt(expected)}")
    return best, errors[wanted] <= errors[best] + tolerance_pp / 100


def best_value(m: Measured, study: str, key: str, expected, tolerance_pp: float) -> Verdict:
    """The reported value is best: its final error within ``tolerance_pp`` of the lowest."""
    errors = _errors(m, study, key)
    best, ok = _best(errors, expected, tolerance_pp)
    return verdict(ok, f"{fmt(best)} ({listing(errors, pct)})")


def best_per_study(m: Measured, key: str, expected: dict, tolerance_pp: float) -> Verdict:
    """In each study the value it names is best (as ``best_value``)."""
    parts, ok = [], True
    for study, wanted in expected.items():
        best, agrees = _best(_errors(m, study, key), wanted, tolerance_pp)
        parts.append(f"{study}: {fmt(best)}")
        ok &= agrees
    return verdict(ok, "best " + "; ".join(parts))


def best_values(m: Measured, study: str, key: str, expected: list) -> Verdict:
    """The values with the lowest final errors are exactly ``expected``."""
    errors = _errors(m, study, key)
    top = sorted(errors, key=errors.get)[: len(expected)]
    return verdict(set(top) == {float(v) for v in expected}, listing(errors, pct))


def best_increases(m: Measured, key: str, small: str, large: str) -> Verdict:
    """The best value in study ``large`` (larger batches) is higher than in study ``small``."""
    low, high = (min(e, key=e.get) for e in (_errors(m, small, key), _errors(m, large, key)))
    return verdict(high > low, f"best {key}: {fmt(low)} ({small}), {fmt(high)} ({large})")


def faster_when_higher(m: Measured, study: str, key: str, epoch: int) -> Verdict:
    """After ``epoch`` epochs the error falls as the value rises: never higher, and lower at the top.

    Rates too small to have left chance level yet tie there (both about 90 %), which is no contradiction.
    """
    runs = by_value(m.finished(study), key)
    if len(runs) < 2:
        raise NotMeasured(f"fewer than two finished {study} runs")
    errors = {value: error_at(run, epoch) for value, run in sorted(runs.items(), reverse=True)}
    ordered = list(errors.values())
    ok = all(a <= b for a, b in itertools.pairwise(ordered)) and ordered[0] < ordered[-1]
    return verdict(ok, f"after {epoch} epoch(s): {listing(errors, pct)}")


def converges_within(m: Measured, study: str, key: str, values: list, epochs: int, within_pp: float) -> Verdict:
    """Each run gets within ``within_pp`` of its final error by epoch ``epochs``."""
    reached = {}
    for value, run in pick(m.finished(study), key, values, study).items():
        errors, final = run.values("val/error"), final_error(run)
        reached[value] = next(i + 1 for i, e in enumerate(errors) if e <= final + within_pp / 100)
    ok = all(epoch <= epochs for epoch in reached.values())
    return verdict(ok, f"epoch within {within_pp:g} pp of the final error: {listing(reached, str)}")


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
    ok = drop >= min_drop_pp / 100 and final - best >= min_gap_pp / 100
    return verdict(ok, f"final {pct(final)}, {pct(drop)} lower than {last_epochs} epochs before (best run {pct(best)})")


def nearly_constant(m: Measured, study: str, key: str, values: list, max_change_pp: float) -> Verdict:
    """From the first epoch to the last each error changes by less than ``max_change_pp``."""
    changes = {}
    for value, run in pick(m.finished(study), key, values, study).items():
        changes[value] = (error_at(run, 1), final_error(run))
    ok = all(abs(first - last) < max_change_pp / 100 for first, last in changes.values())
    return verdict(ok, listing(changes, lambda c: f"{pct(c[0])} after epoch 1 -> {pct(c[1])}"))


def slower_than(m: Measured, study: str, key: str, slow, fast, epochs: int) -> Verdict:
    """``slow`` has the higher error in each of the first ``epochs`` epochs."""
    runs = pick(m.finished(study), key, [slow, fast], study)
    s, f = runs[float(slow)], runs[float(fast)]
    pairs = [(error_at(s, e), error_at(f, e)) for e in range(1, epochs + 1)]
    shown = ", ".join(f"{pct(a)} vs {pct(b)}" for a, b in pairs)
    return verdict(all(a > b for a, b in pairs), f"epochs 1-{epochs}, {fmt(slow)} vs {fmt(fast)}: {shown}")


def reaches_accuracy(m: Measured, study: str, key: str, values: list, accuracy: float, by_epoch: int) -> Verdict:
    """Each run's validation accuracy passes ``accuracy`` within ``by_epoch`` epochs."""
    reached = {v: 1 - error_at(run, by_epoch) for v, run in pick(m.finished(study), key, values, study).items()}
    ok = all(acc > accuracy for acc in reached.values())
    return verdict(ok, f"accuracy after {by_epoch} epochs: {listing(reached, pct)}")


def barely_learns(m: Measured, study: str, key: str, value, min_error: float) -> Verdict:
    """The run's final error is at least ``min_error`` (chance is 90 %)."""
    (run,) = pick(m.finished(study), key, [value], study).values()
    error = final_error(run)
    return verdict(error >= min_error, f"final error {pct(error)} ({len(run.values('val/error'))} epochs)")


def max_accuracy(m: Measured, study: str, key: str, value, reported: float, tolerance_pp: float) -> Verdict:
    """The run's best validation accuracy is at most ``reported`` + ``tolerance_pp``."""
    (run,) = pick(m.finished(study), key, [value], study).values()
    best = 1 - run.metrics()["best_val_error"]
    return verdict(best <= reported + tolerance_pp / 100, f"best validation accuracy {pct(best)}")


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
    return verdict(abs(mean - reported) <= tolerance_pp / 100, shown)


def seed_spread(m: Measured, study: str, max_range_pp: float) -> Verdict:
    """The finished runs' test errors lie within ``max_range_pp`` of each other."""
    errors = [r.metrics()["test_error"] for r in m.finished(study) if r.metrics()["test_error"] is not None]
    if len(errors) < 2:
        raise NotMeasured(f"fewer than two finished {study} runs")
    spread = max(errors) - min(errors)
    measured = f"test error {pct(min(errors))} to {pct(max(errors))} over {len(errors)} seeds (range {pct(spread)})"
    return verdict(spread <= max_range_pp / 100, measured)


def better_model(m: Measured, study: str, key: str, better: str, worse: str) -> Verdict:
    """The ``better`` model has the lower test error."""
    runs = pick(m.finished(study), key, [better, worse], study)
    errors = {name: runs[name].metrics()["test_error"] for name in (better, worse)}
    if None in errors.values():
        raise NotMeasured(f"{study}: a run without a test error")
    params = {name: runs[name].hparams.get("params") for name in (better, worse)}
    shown = "; ".join(f"{name} {pct(1 - errors[name])} test accuracy, {params[name]:,} parameters" for name in errors)
    return verdict(errors[better] < errors[worse], shown)


def error_ratio(m: Measured, study: str, key: str, value, reference, min_ratio: float) -> Verdict:
    """The run's final error is at least ``min_ratio`` times the reference run's."""
    runs = pick(m.finished(study), key, [value, reference], study)
    a, b = final_error(runs[float(value)]), final_error(runs[float(reference)])
    ratio = f" ({a / b:.1f}x)" if b else ""
    return verdict(a >= min_ratio * b, f"{fmt(value)}: {pct(a)}, {fmt(reference)}: {pct(b)}{ratio}")


def no_better(m: Measured, study: str, key: str, values: list, reference, max_gain_pp: float) -> Verdict:
    """No run's final error is lower than the reference's by more than ``max_gain_pp``."""
    runs = pick(m.finished(study), key, [*values, reference], study)
    base = final_error(runs[float(reference)])
    errors = {v: final_error(runs[float(v)]) for v in values}
    ok = all(base - e <= max_gain_pp / 100 for e in errors.values())
    return verdict(ok, f"{fmt(reference)}: {pct(base)}; " + listing(errors, pct))
