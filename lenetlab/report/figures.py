"""The report's figures, drawn headless (matplotlib's ``Figure`` with the Agg canvas, no pyplot, no display)."""

from __future__ import annotations

import statistics
import textwrap
from collections import defaultdict
from collections.abc import Callable

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator, NullFormatter, ScalarFormatter

from lenetlab.report.runs import NOT_SWEPT, Run, describe, fmt

MAX_SWEPT_TICKS = 12
MARKERS = "osD^vP*Xph<>"  # with the colours, keeps a dozen overlapping lines apart


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _spans_decades(values) -> bool:
    values = [v for v in values if _numeric(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 10


def _colors(n: int) -> list:
    return [colormaps["tab10" if n <= 10 else "tab20"](i % 20) for i in range(n)]


def _fixed(runs: list[Run], keys: list[str]) -> str:
    """The settings all runs share (for the subtitle)."""
    shared = {}
    for run in runs:
        for key, value in run.hparams.items():
            if value is not None and key not in keys and key not in NOT_SWEPT:
                shared.setdefault(key, value)
    return ", ".join(f"{key}={fmt(value)}" for key, value in shared.items())


def _figure(width: float = 7.5, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _finish(fig: Figure, title: str, runs: list[Run], keys: list[str], left_out: list[Run]) -> Figure:
    """Title, the shared settings, and the runs that could not be drawn (so none is silently dropped)."""
    notes = [_fixed(runs, keys)]
    if 0 < len(left_out) <= 4:
        missing = "; ".join(f"{describe(r.hparams, keys) or r.name} ({r.status})" for r in left_out)
        notes.append(f"not drawn, no data: {missing}")
    elif left_out:
        counts = {s: sum(r.status == s for r in left_out) for s in dict.fromkeys(r.status for r in left_out)}
        notes.append("not drawn, no data: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " (see summary.md)")
    fig.suptitle(title, fontweight="bold")
    chars = int(fig.get_figwidth() * 14)  # about what fits at the small font
    text = "\n".join(textwrap.fill(n, chars) for n in notes if n)
    if text:
        fig.supxlabel(text, fontsize="small", color="0.35", ha="center")
    return fig


def _swept_axis(axis, values, scale_setter) -> None:
    """Log axis when the swept values span decades; ticks at the swept values when few."""
    values = sorted({v for v in values if _numeric(v)})
    if _spans_decades(values):
        scale_setter("log", base=2 if all(isinstance(v, int) for v in values) else 10)
    if len(values) <= MAX_SWEPT_TICKS:
        axis.set_ticks(values)
        axis.set_major_formatter(ScalarFormatter() if all(isinstance(v, int) for v in values) else "{x:g}")
        axis.set_minor_formatter(NullFormatter())


class _PlainLog(LogFormatter):
    """LogFormatter's choice of ticks to label, written plainly: 40, 0.5, 100,000 (not 4x10^1)."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:,.0f}" if x >= 1 else f"{x:.2g}"


def _log(ax, which: str = "y") -> None:
    """A log axis labelled with plain numbers."""
    axis, set_scale = (ax.yaxis, ax.set_yscale) if which == "y" else (ax.xaxis, ax.set_xscale)
    set_scale("log")
    axis.set_major_formatter(_PlainLog(labelOnlyBase=False))
    # minor labels only on y: on x, wide numbers such as 300,000 would run into each other
    minor = _PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)) if which == "y" else NullFormatter()
    axis.set_minor_formatter(minor)


def _legend(ax, n: int) -> None:
    if not ax.get_legend_handles_labels()[0]:  # nothing labelled to list (a single run)
        return
    if n > 6:  # beside the plot, not over the lines
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    else:
        ax.legend(fontsize="small")


def learning_curves(runs: list[Run], keys: list[str]) -> Figure | None:
    """Validation error against epoch: one line per run, or per seed group its mean with a min-max band."""
    drawn = [r for r in runs if r.values("val/error")]
    if not drawn:
        return None
    seeds = "seed" in keys  # then the runs that differ only by their seed make one group
    group_keys = [k for k in keys if k != "seed"]
    groups = defaultdict(list)
    for run in drawn:
        groups[describe(run.hparams, group_keys) if seeds or keys else run.name].append(run)
    fig = _figure(height=5)
    ax = fig.add_subplot()
    for i, (color, (label, members)) in enumerate(zip(_colors(len(groups)), groups.items(), strict=True)):
        by_epoch = defaultdict(list)
        for run in members:
            for step, value in run.curves["val/error"]:
                by_epoch[step + 1].append(100 * value)
        epochs = sorted(by_epoch)
        mean = [statistics.mean(by_epoch[e]) for e in epochs]
        if len(members) > 1:
            ax.fill_between(epochs, [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs],
                            color=color, alpha=0.2, linewidth=0)  # fmt: skip
            spread = f"mean of {len(members)} seeds, band min–max"
            label = f"{label} ({spread})" if label else spread
        ended = sorted({r.status for r in members} - {"finished"})  # diverged, unfinished, pruned...
        if ended:
            label = f"{label} ({', '.join(ended)})" if label else ", ".join(ended)
        ax.plot(epochs, mean, marker=MARKERS[i % len(MARKERS)], markersize=4, color=color, label=label or "run")
        if "diverged" in ended:
            ax.plot(epochs[-1], mean[-1], marker="X", markersize=9, color=color)
    values = [100 * v for r in drawn for v in r.values("val/error")]
    if _spans_decades(values):
        _log(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: tick 1, not 0.95...1.05
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("validation error (%)")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, len(groups))
    left_out = [r for r in runs if r not in drawn]
    return _finish(fig, "Validation error during training", runs, keys, left_out)


def _lines(ax, runs: list[Run], x_key: str, y: Callable[[Run], float | None], group_keys: list[str], colors: dict):
    """y against hparam ``x_key``, one line per group; several runs at one x (seeds): mean, bar min-max."""
    groups = defaultdict(lambda: defaultdict(list))
    for run in runs:
        x, value = run.hparams.get(x_key), y(run)
        if _numeric(x) and value is not None:
            groups[describe(run.hparams, group_keys)][x].append(value)
    for i, (label, points) in enumerate(groups.items()):
        xs = sorted(points)
        mean = [statistics.mean(points[x]) for x in xs]
        spread = [[m - min(points[x]) for x, m in zip(xs, mean, strict=True)],
                  [max(points[x]) - m for x, m in zip(xs, mean, strict=True)]]  # fmt: skip
        several = any(len(points[x]) > 1 for x in xs)
        marker = MARKERS[i % len(MARKERS)]
        ax.errorbar(xs, mean, yerr=spread if several else None, marker=marker, capsize=3, color=colors.get(label),
                    label=label or None)  # fmt: skip
    return groups


ARCHITECTURE = ("model", "filters", "kernel_size", "hidden")
AXIS_NAMES = {"filters": "filters per conv layer", "params": "parameters", "kernel_size": "kernel size (pixels)"}


def _grid(runs, keys, x_keys, panels, title, group_keys: Callable[[str], list[str]]) -> Figure | None:
    """One row per panel (label, y), one column per varying x hparam; lines grouped by ``group_keys(x)``."""
    x_keys = [k for k in x_keys if len({r.hparams.get(k) for r in runs if _numeric(r.hparams.get(k))}) > 1]
    drawable = [r for r in runs if any(y(r) is not None for _, y in panels)]
    if not x_keys or not drawable:
        return None
    fig = _figure(width=5.5 * len(x_keys), height=3.6 * len(panels) + 0.8)
    axes = fig.subplots(len(panels), len(x_keys), squeeze=False)
    for col, x_key in enumerate(x_keys):
        groups = group_keys(x_key)
        labels = list(dict.fromkeys(describe(r.hparams, groups) for r in drawable))
        colors = dict(zip(labels, _colors(len(labels)), strict=True))
        x_values = [r.hparams.get(x_key) for r in drawable]
        for row, (y_label, y) in enumerate(panels):
            ax = axes[row][col]
            _lines(ax, drawable, x_key, y, groups, colors)
            if x_key == "params":  # a count, not a swept setting: default ticks
                if _spans_decades(x_values):
                    _log(ax, "x")
            else:
                _swept_axis(ax.xaxis, x_values, ax.set_xscale)
            if _spans_decades([y(r) for r in drawable]):
                _log(ax)
            ax.set_xlabel(AXIS_NAMES.get(x_key, x_key))
            ax.set_ylabel(y_label)
            ax.grid(True, which="both", alpha=0.3)
        if any(labels):
            _legend(axes[0][col], len(labels))
    left_out = [r for r in runs if r not in drawable]
    return _finish(fig, title, runs, keys, left_out)


def runtime(runs: list[Run], keys: list[str]) -> Figure | None:
    """Steady-state seconds per epoch and total training time against filters and parameter count."""
    panels = [
        ("seconds per epoch (steady state)", lambda r: r.metrics()["epoch_s"]),
        ("total training time (s)", lambda r: r.metrics()["fit_s"]),
    ]

    def groups(x_key: str) -> list[str]:  # against params, every architecture change is on the x-axis
        return [k for k in keys if k not in (x_key, "seed", *(ARCHITECTURE if x_key == "params" else ()))]

    return _grid(runs, keys, ["filters", "params"], panels, "Training time against network size", groups)


def params(runs: list[Run], keys: list[str]) -> Figure | None:
    """Parameter count against filters (one line per architecture that varies besides the filters)."""
    group = [k for k in keys if k in ARCHITECTURE and k != "filters"]
    panels = [("parameters", lambda r: r.hparams.get("params"))]
    return _grid(runs, keys, ["filters"], panels, "Parameters against filters", lambda _: group)


def kernel_size(runs: list[Run], keys: list[str]) -> Figure | None:
    """Final validation error and seconds per epoch against the kernel size."""
    if "kernel_size" not in keys:
        return None
    panels = [
        ("final validation error (%)", lambda r: _percent(r.metrics()["val_error"])),
        ("seconds per epoch (steady state)", lambda r: r.metrics()["epoch_s"]),
    ]

    def groups(x_key: str) -> list[str]:
        return [k for k in keys if k not in (x_key, "seed")]

    return _grid(runs, keys, ["kernel_size"], panels, "Validation error and time against kernel size", groups)


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


FIGURES = {  # file name (without the format's extension) -> drawing
    "learning_curves": learning_curves,
    "runtime": runtime,
    "params": params,
    "kernel_size": kernel_size,
}
