"""Checks of the cost claims: parameter counts, runtime on CPU and GPU, and the random search's result."""

from __future__ import annotations

import itertools
import math
import statistics

from lenetlab.report.runs import fmt
from lenetlab.reproduce.results import Measured
from lenetlab.reproduce.verdict import NotMeasured, Verdict, by_value, epoch_seconds, listing, pct, pick, verdict


def _count(m: Measured, model: str) -> dict:
    if m.params is None:
        raise NotMeasured("the params study was not run")
    if model not in m.params:
        raise NotMeasured(f"no parameter count for {model}")
    return m.params[model]


def param_count(m: Measured, model: str, reported: int) -> Verdict:
    """The model has exactly the reported number of parameters."""
    total = _count(m, model)["total"]
    failed = [] if total == reported else [f"{total - reported:+,} against the reported {reported:,}"]
    return verdict(f"{total:,}", failed)


def param_counts(m: Measured, models: list[str], reported: list[int]) -> Verdict:
    """Each model has exactly its reported number of parameters."""
    totals = [_count(m, model)["total"] for model in models]
    failed = [
        f"{model}: {total - want:+,} against the reported {want:,}"
        for model, total, want in zip(models, totals, reported, strict=True)
        if total != want
    ]
    return verdict(" / ".join(f"{t:,}" for t in totals), failed)


def param_split(m: Measured, model: str, conv: int, fc: int, tolerance: float) -> Verdict:
    """The conv and the fully connected parameters are each within ``tolerance`` (relative) of the reported."""
    count = _count(m, model)
    failed = [
        f"{name} {count[part]:,} is {count[part] / want:.1f}x the reported {want:,}, outside ±{100 * tolerance:g}%"
        for part, name, want in (("conv", "conv", conv), ("fc", "FC", fc))
        if abs(count[part] - want) > tolerance * want
    ]
    return verdict(f"{count['conv']:,} conv / {count['fc']:,} FC", failed)


def conv_share_grows(m: Measured, models: list[str]) -> Verdict:
    """The conv layers' share of all parameters rises from each model to the next."""
    shares = dict(zip(models, (_count(m, model)["conv"] / _count(m, model)["total"] for model in models), strict=True))
    failed = [
        f"{b} ({100 * shares[b]:.1f}%) is not above {a} ({100 * shares[a]:.1f}%)"
        for a, b in itertools.pairwise(models)
        if shares[a] >= shares[b]
    ]
    shown = ", ".join(f"{model.rsplit('_', 1)[-1]}: {100 * s:.1f}%" for model, s in shares.items())
    return verdict(f"conv share {shown}", failed)


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
    seconds = _seconds(m, study, key, values)
    failed = [
        f"{fmt(b)} ({seconds[b]:.2f} s) is not slower than {fmt(a)} ({seconds[a]:.2f} s)"
        for a, b in itertools.pairwise(seconds)
        if seconds[a] >= seconds[b]
    ]
    return verdict("s/epoch " + listing(seconds, lambda s: f"{s:.1f}") + _timed(m, study), failed)


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
    failed = [f"slope {slope:.3f}, under {low:g}"] if slope < low else []
    failed += [f"slope {slope:.3f}, over {high:g}"] if slope > high else []
    return verdict(f"slope {slope:.2f} over {span}" + _timed(m, study), failed)


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
    failed = [f"{fmt(f)}: {r:.2f}x, not over {min_ratio:g}x" for f, r in ratios.items() if r <= min_ratio]
    failed += [f"{fmt(f)}: {r:.2f}x, over {max_ratio:g}x" for f, r in ratios.items() if r > max_ratio]
    return verdict("GPU speed-up " + listing(ratios, lambda r: f"{r:.1f}x") + _timed(m, cpu, "CPU "), failed)


def gpu_flat_then_steep(m: Measured, study: str, flat_until: int, flat_max: float, steep_min: float) -> Verdict:
    """Time at ``flat_until`` filters at most ``flat_max`` x the smallest; at the largest at least ``steep_min`` x."""
    if not m.finished(study):
        raise NotMeasured("no GPU" if m.gpu_source is None else f"no finished {study} runs")
    seconds = _seconds(m, study, "filters")
    if float(flat_until) not in seconds:
        raise NotMeasured(f"no {study} run with {flat_until} filters")
    smallest, largest, middle = min(seconds), max(seconds), seconds[float(flat_until)]
    flat, steep = middle / seconds[smallest], seconds[largest] / middle
    failed = []
    if flat > flat_max:
        failed.append(f"{fmt(flat_until)} filters take {flat:.2f}x of {fmt(smallest)}, over {flat_max:g}x")
    if steep < steep_min:
        failed.append(f"{fmt(largest)} filters take {steep:.2f}x of {fmt(flat_until)}, under {steep_min:g}x")
    return verdict("s/epoch " + listing(seconds, lambda s: f"{s:.2f}") + f" ({flat:.2f}x, then {steep:.2f}x)", failed)


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
    off = max(value / reported, reported / value)
    failed = (
        [] if off <= factor else [f"{param} {value:.3g} is a factor {off:.1f} from {reported:.3g}, over {factor:g}"]
    )
    return verdict(f"trial {best['number']}: {shown}", failed)


def search_test_error(m: Measured, reported: float, tolerance_pp: float) -> Verdict:
    """The final run's test error lies within ``tolerance_pp`` of the reported one."""
    if not m.final or m.final.get("test_error") is None:
        raise NotMeasured("the search's final run did not finish" if m.trials is not None else "the search was not run")
    error = m.final["test_error"]
    measured = f"{100 * error:.2f}% ({m.final['epochs']} epochs on 60,000 images, trial {m.final['trial']})"
    return verdict(measured, _off(error, reported, tolerance_pp))


def _off(error: float, reported: float, tolerance_pp: float) -> list[str]:
    """The failure of ``error`` against ``reported`` when more than ``tolerance_pp`` apart."""
    if abs(error - reported) <= tolerance_pp / 100:
        return []
    side = "above" if error > reported else "below"
    return [f"{100 * abs(error - reported):.2f} pp {side} the reported {pct(reported)}, more than {tolerance_pp:g} pp"]


def search_best_error(m: Measured, reported: float, tolerance_pp: float) -> Verdict:
    """The best trial's validation error lies within ``tolerance_pp`` of the reported (best) error."""
    best = _best_trial(m)
    error = float(best["best_val_error"])
    counted = [t for t in m.trials if t["state"] in ("COMPLETE", "PRUNED")]
    pruned = sum(t["state"] == "PRUNED" for t in counted)
    measured = f"{pct(error)} (trial {best['number']} of {len(counted)}, {pruned} pruned)"
    return verdict(measured, _off(error, reported, tolerance_pp))


def log_int_draws(m: Measured, params: list[str]) -> Verdict:
    """Agrees only if every drawn integer is a power of 2 (what report 004 expected of log=True)."""
    if not m.trials:
        raise NotMeasured("the search was not run")
    drawn = {p: sorted({int(t[f"params_{p}"]) for t in m.trials if t.get(f"params_{p}")}) for p in params}
    odd = {p: [v for v in values if v & (v - 1)] for p, values in drawn.items()}
    shown = "; ".join(f"{p} drawn {', '.join(map(str, drawn[p]))}" for p in params)
    failed = [f"{p} {', '.join(map(str, values))} {'is' if len(values) == 1 else 'are'} no power of 2"
              for p, values in odd.items() if values]  # fmt: skip
    return verdict(shown, failed)


def time_ratio(m: Measured, study: str, key: str, values: list, reference, min_ratio: float) -> Verdict:
    """Each run's seconds per epoch are at least ``min_ratio`` times the reference run's."""
    runs = pick(m.finished(study), key, [*values, reference], study)
    base = epoch_seconds(runs[float(reference)])
    ratios = {v: epoch_seconds(runs[float(v)]) / base for v in values}
    shown = f"{fmt(reference)}: {base:.1f} s/epoch; " + listing(ratios, lambda r: f"{r:.2f}x")
    failed = [f"{fmt(v)}: {r:.2f}x < {min_ratio:g}x" for v, r in ratios.items() if r < min_ratio]
    return verdict(shown + _timed(m, study), failed)


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
    failed = [] if ratio <= max_ratio else [f"the GPU is {ratio:.2f}x faster, over {max_ratio:g}x"]
    return verdict(shown + _timed(m, cpu, "CPU "), failed)
