"""Checks of the cost claims: parameter counts, runtime on CPU and GPU, and the random search's result."""

from __future__ import annotations

import itertools
import math
import statistics

from lenetlab.report.runs import fmt
from lenetlab.reproduce.results import Measured
from lenetlab.reproduce.verdict import NotMeasured, Verdict, by_value, epoch_seconds, listing, pick, verdict


def _count(m: Measured, model: str) -> dict:
    if m.params is None:
        raise NotMeasured("the params study was not run")
    if model not in m.params:
        raise NotMeasured(f"no parameter count for {model}")
    return m.params[model]


def param_count(m: Measured, model: str, reported: int) -> Verdict:
    """The model has exactly the reported number of parameters."""
    total = _count(m, model)["total"]
    return verdict(total == reported, f"{total:,}")


def param_counts(m: Measured, models: list[str], reported: list[int]) -> Verdict:
    """Each model has exactly its reported number of parameters."""
    totals = [_count(m, model)["total"] for model in models]
    return verdict(totals == list(reported), " / ".join(f"{t:,}" for t in totals))


def param_split(m: Measured, model: str, conv: int, fc: int, tolerance: float) -> Verdict:
    """The conv and the fully connected parameters are each within ``tolerance`` (relative) of the reported."""
    count = _count(m, model)
    ok = all(abs(count[part] - want) <= tolerance * want for part, want in (("conv", conv), ("fc", fc)))
    return verdict(ok, f"{count['conv']:,} conv / {count['fc']:,} FC")


def conv_share_grows(m: Measured, models: list[str]) -> Verdict:
    """The conv layers' share of all parameters rises from each model to the next."""
    shares = [_count(m, model)["conv"] / _count(m, model)["total"] for model in models]
    ok = all(a < b for a, b in itertools.pairwise(shares))
    shown = ", ".join(f"{model.rsplit('_', 1)[-1]}: {100 * s:.1f}%" for model, s in zip(models, shares, strict=True))
    return verdict(ok, f"conv share {shown}")


def _seconds(m: Measured, study: str, key: str, values: list | None = None) -> dict:
    runs = pick(m.finished(study), key, values, study) if values else by_value(m.finished(study), key)
    if not runs:
        raise NotMeasured(f"no finished {study} runs")
    return {value: epoch_seconds(run) for value, run in sorted(runs.items())}


def _timed(m: Measured, study: str, what: str = "") -> str:
    fraction = m.epoch_fraction(study)
    return f" ({what}timed on {100 * fraction:.0f}% of each epoch)" if fraction < 1.0 else ""


def runtime_grows(m: Measured, study: str, key: str, values: list) -> Verdict:
    """Seconds per epoch rise strictly with ``key``."""
    seconds = list(_seconds(m, study, key, values).items())
    ok = all(a[1] < b[1] for a, b in itertools.pairwise(seconds))
    return verdict(ok, "s/epoch " + listing(dict(seconds), lambda s: f"{s:.1f}") + _timed(m, study))


def runtime_scaling(m: Measured, study: str, key: str, low: float, high: float) -> Verdict:
    """The log-log slope of seconds per epoch against parameters (least squares) lies in [low, high]."""
    runs = by_value(m.finished(study), key)
    points = [
        (math.log(r.hparams["params"]), math.log(epoch_seconds(r))) for r in runs.values() if r.hparams.get("params")
    ]
    if len(points) < 2:
        raise NotMeasured(f"fewer than two finished {study} runs")
    slope = statistics.linear_regression(*zip(*points, strict=True)).slope
    span = f"{fmt(min(runs))}-{fmt(max(runs))} {key}"
    return verdict(low <= slope <= high, f"slope {slope:.2f} over {span}" + _timed(m, study))


def _speedups(m: Measured, cpu: str, gpu: str, filters: list | None) -> dict:
    if not m.finished(gpu):
        raise NotMeasured("no GPU" if m.gpu_source is None else f"no finished {gpu} runs")
    slow, fast = _seconds(m, cpu, "filters", filters), _seconds(m, gpu, "filters", filters)
    shared = [f for f in slow if f in fast]
    if not shared:
        raise NotMeasured(f"no filter count in both {cpu} and {gpu}")
    return {f: slow[f] / fast[f] for f in shared}


def gpu_speedup(
    m: Measured, cpu: str, gpu: str, filters: list | None = None, min_ratio: float = 0.0, max_ratio: float = math.inf
) -> Verdict:
    """CPU seconds per epoch over GPU seconds per epoch, per filter count, all within [min_ratio, max_ratio]."""
    ratios = _speedups(m, cpu, gpu, filters)
    ok = all(min_ratio < r <= max_ratio for r in ratios.values())
    return verdict(ok, "GPU speed-up " + listing(ratios, lambda r: f"{r:.1f}x") + _timed(m, cpu, "CPU "))


def gpu_flat_then_steep(m: Measured, study: str, flat_until: int, flat_max: float, steep_min: float) -> Verdict:
    """Time at ``flat_until`` filters at most ``flat_max`` x the smallest; at the largest at least ``steep_min`` x."""
    if not m.finished(study):
        raise NotMeasured("no GPU" if m.gpu_source is None else f"no finished {study} runs")
    seconds = _seconds(m, study, "filters")
    if float(flat_until) not in seconds:
        raise NotMeasured(f"no {study} run with {flat_until} filters")
    smallest, largest, middle = min(seconds), max(seconds), seconds[float(flat_until)]
    flat, steep = middle / seconds[smallest], seconds[largest] / middle
    ok = flat <= flat_max and steep >= steep_min
    return verdict(ok, "s/epoch " + listing(seconds, lambda s: f"{s:.2f}") + f" ({flat:.2f}x, then {steep:.2f}x)")


def _best_trial(m: Measured) -> dict:
    complete = [t for t in m.trials or [] if t["state"] == "COMPLETE" and t["best_val_error"]]
    if not complete:
        raise NotMeasured("the search has no completed trial" if m.trials is not None else "the search was not run")
    return min(complete, key=lambda t: float(t["best_val_error"]))


def search_best(m: Measured, param: str, reported: float, factor: float) -> Verdict:
    """The best trial's ``param`` lies within a factor ``factor`` of the reported value."""
    best = _best_trial(m)
    value = float(best[f"params_{param}"])
    values = {k.removeprefix("params_"): v for k, v in best.items() if k.startswith("params_")}
    shown = ", ".join(f"{k} {fmt(float(v)) if k == 'lr' else v}" for k, v in values.items())
    return verdict(reported / factor <= value <= reported * factor, f"trial {best['number']}: {shown}")


def search_test_error(m: Measured, reported: float, tolerance_pp: float) -> Verdict:
    """The final run's test error lies within ``tolerance_pp`` of the reported one."""
    if not m.final or m.final.get("test_error") is None:
        raise NotMeasured("the search's final run did not finish" if m.trials is not None else "the search was not run")
    error = m.final["test_error"]
    measured = f"{100 * error:.2f}% ({m.final['epochs']} epochs on 60,000 images, trial {m.final['trial']})"
    return verdict(abs(error - reported) <= tolerance_pp / 100, measured)


def log_int_draws(m: Measured, params: list[str]) -> Verdict:
    """Agrees only if every drawn integer is a power of 2 (what report 004 expected of log=True)."""
    if not m.trials:
        raise NotMeasured("the search was not run")
    drawn = {p: sorted({int(t[f"params_{p}"]) for t in m.trials if t.get(f"params_{p}")}) for p in params}
    odd = {p: [v for v in values if v & (v - 1)] for p, values in drawn.items()}
    shown = "; ".join(f"{p} drawn {', '.join(map(str, drawn[p]))}" for p in params)
    return verdict(not any(odd.values()), shown)


def time_ratio(m: Measured, study: str, key: str, values: list, reference, min_ratio: float) -> Verdict:
    """Each run's seconds per epoch are at least ``min_ratio`` times the reference run's."""
    runs = pick(m.finished(study), key, [*values, reference], study)
    base = epoch_seconds(runs[float(reference)])
    ratios = {v: epoch_seconds(runs[float(v)]) / base for v in values}
    shown = f"{fmt(reference)}: {base:.1f} s/epoch; " + listing(ratios, lambda r: f"{r:.2f}x")
    return verdict(all(r >= min_ratio for r in ratios.values()), shown + _timed(m, study))


def benchmark_epoch_s(benchmark: dict, filters: int) -> float | None:
    """lenetlab's fp32 seconds per epoch with ``filters`` in ``scripts/benchmark.py --json``'s results, if there."""
    entry = benchmark.get(str(filters), {}).get("32", {}).get("lenetlab")
    return entry["median_s"] if entry else None


def benchmark_speedup(m: Measured, cpu: str, filters: int, max_ratio: float) -> Verdict:
    """CPU seconds per epoch over the CUDA benchmark's lenetlab epoch (benchmark_cuda.json), at most ``max_ratio``."""
    if m.benchmark is None:
        raise NotMeasured("no GPU" if m.gpu_source is None else "no benchmark_cuda.json in gpu_results")
    gpu_s = benchmark_epoch_s(m.benchmark, filters)
    if gpu_s is None:
        raise NotMeasured(f"benchmark_cuda.json has no fp32 lenetlab epoch with {filters} filters")
    (seconds,) = _seconds(m, cpu, "filters", [filters]).values()
    ratio = seconds / gpu_s
    shown = f"{ratio:.1f}x ({seconds:.2f} s CPU, {gpu_s:.2f} s GPU per epoch)"
    return verdict(ratio <= max_ratio, shown + _timed(m, cpu, "CPU "))
