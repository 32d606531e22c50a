"""The report's figures, drawn headless (matplotlib's ``Figure`` with the Agg canvas, no pyplot, no display)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import NamedTuple

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lenetlab.report.runs import NOT_SWEPT, Run, describe
from lenetlab.report.style import (
    MARKERS,
    colors,
    finish,
    legend,
    log_axis,
    new_figure,
    numeric,
    spans_decades,
    swept_axis,
)
from lenetlab.tensorboard.hparams import TRAINING

BEST_NAMED = 5  # of more runs than markers (a search's trials), the curves named in the legend


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
    fig = new_figure(height=5)
    ax = fig.add_subplot()
    if len(groups) > len(MARKERS):  # a search's trials: the best few by name, the others as grey lines
        groups = dict(sorted(groups.items(), key=lambda group: min(r.values("val/error")[-1] for r in group[1])))
        for others in list(groups)[BEST_NAMED:]:
            for run in groups.pop(others):
                epochs, errors = zip(*((step + 1, 100 * value) for step, value in run.curves["val/error"]), strict=True)
                ax.plot(epochs, errors, color="0.75", linewidth=1, marker=".")  # a pruned trial's one epoch: a dot
        ax.plot([], [], color="0.75", label=f"the other {len(drawn) - sum(map(len, groups.values()))} runs")
    for i, (color, (label, members)) in enumerate(zip(colors(len(groups)), groups.items(), strict=True)):
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
    if spans_decades(values):
        log_axis(ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # one epoch: tick 1, not 0.95...1.05
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("validation error (%)")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax, len(ax.get_legend_handles_labels()[0]))
    left_out = [r for r in runs if r not in drawn]
    return finish(fig, "Validation error during training", runs, keys, left_out)


class Panel(NamedTuple):
    """One row of a grid figure: its y label, a run's value (None: not drawn), and whether that value is scaled
    up from part of an epoch for the runs that were timed on part of one (then drawn hollow)."""

    label: str
    y: Callable[[Run], float | None]
    scaled: bool = False


def _lines(ax, runs: list[Run], x_key: str, panel: Panel, group_keys: list[str], styles: dict, points=False):
    """The panel's y against hparam ``x_key``, one line per group; several runs at one x (seeds): mean, bar
    min-max. A point scaled up from runs timed on part of an epoch has a hollow marker. With ``points`` (a
    search's trials, one group each), each run is a point and no line joins them."""
    y = panel.y
    if points:
        color, marker = styles[""]
        for hollow in (False, True):
            pairs = [(r.hparams.get(x_key), y(r)) for r in runs if (panel.scaled and r.partly_timed) == hollow]
            if pairs := [(x, value) for x, value in pairs if numeric(x) and value is not None]:
                ax.plot(*zip(*pairs, strict=True), linestyle="none", marker=marker, color=color, alpha=0.7,
                        markerfacecolor="none" if hollow else color)  # fmt: skip
        return
    groups = defaultdict(lambda: defaultdict(list))
    scaled = defaultdict(set)
    for run in runs:
        x, value = run.hparams.get(x_key), y(run)
        if numeric(x) and value is not None:
            label = describe(run.hparams, group_keys)
            groups[label][x].append(value)
            if panel.scaled and run.partly_timed:
                scaled[label].add(x)
    for label, points in groups.items():
        xs = sorted(points)
        mean = [statistics.mean(points[x]) for x in xs]
        spread = [[m - min(points[x]) for x, m in zip(xs, mean, strict=True)],
                  [max(points[x]) - m for x, m in zip(xs, mean, strict=True)]]  # fmt: skip
        several = any(len(points[x]) > 1 for x in xs)
        color, marker = styles[label]
        hollow = [j for j, x in enumerate(xs) if x in scaled[label]]
        filled = [j for j in range(len(xs)) if j not in hollow]
        ax.errorbar(xs, mean, yerr=spread if several else None, marker=marker, markevery=filled, capsize=3,
                    color=color, label=label or None)  # fmt: skip
        if hollow:
            ax.plot([xs[j] for j in hollow], [mean[j] for j in hollow], linestyle="none", marker=marker,
                    markerfacecolor="none", markeredgecolor=color)  # fmt: skip
    return groups


def scaled_note(runs: list[Run]) -> str | None:
    """The legend note for hollow markers: what share of an epoch the partly timed runs trained, if any did."""
    shares = sorted({run.epoch_fraction for run in runs if run.partly_timed})
    if not shares:
        return None
    shown = " to ".join(dict.fromkeys(f"{100 * share:.3g}%" for share in (shares[0], shares[-1])))
    return f"hollow: timed on {shown} of each epoch, scaled to a whole one"


def _note_scaled(ax, runs: list[Run]) -> None:
    if note := scaled_note(runs):
        ax.plot([], [], linestyle="none", marker="o", markerfacecolor="none", markeredgecolor="0.3", label=note)


def architecture(keys: list[str]) -> list[str]:
    """Of ``keys``, those of the network: its class (``model``) and its own keys (``filters``, ``width``...)."""
    return [key for key in keys if key not in (*TRAINING, *NOT_SWEPT)]


AXIS_NAMES = {"filters": "filters per conv layer", "params": "parameters", "kernel_size": "kernel size (pixels)"}


def _grid(runs, keys, x_keys, panels: list[Panel], title, group_keys: Callable[[str], list[str]], notes=()):
    """One row per panel, one column per varying x hparam; lines grouped by ``group_keys(x)``.

    A panel no run has a value for is left out; ``notes`` go under the figure with the shared settings.
    """
    x_keys = [k for k in x_keys if len({r.hparams.get(k) for r in runs if numeric(r.hparams.get(k))}) > 1]
    panels = [panel for panel in panels if any(panel.y(r) is not None for r in runs)]
    drawable = [r for r in runs if any(panel.y(r) is not None for panel in panels)]
    if not x_keys or not drawable:
        return None
    fig = new_figure(width=5.5 * len(x_keys), height=3.6 * len(panels) + 0.8)
    axes = fig.subplots(len(panels), len(x_keys), squeeze=False)
    for col, x_key in enumerate(x_keys):
        groups = group_keys(x_key)
        column = [r for r in drawable if r.hparams.get(x_key) is not None]  # an MLP has no filters to draw at
        labels = list(dict.fromkeys(describe(r.hparams, groups) for r in column))
        points = len(labels) > len(MARKERS)  # a line per run is no line: each run a point
        if points:
            groups, labels = [], [""]
        # a group keeps its colour and marker in every panel, whichever groups a panel lacks
        styles = {label: (color, MARKERS[i % len(MARKERS)]) for i, (label, color) in
                  enumerate(zip(labels, colors(len(labels)), strict=True))}  # fmt: skip
        x_values = [r.hparams.get(x_key) for r in column]
        for row, panel in enumerate(panels):
            ax = axes[row][col]
            _lines(ax, column, x_key, panel, groups, styles, points)
            if x_key == "params":  # a count, not a swept setting: default ticks
                if spans_decades(x_values):
                    log_axis(ax, "x")
            else:
                swept_axis(ax.xaxis, x_values, ax.set_xscale)
            if spans_decades([panel.y(r) for r in column]):
                log_axis(ax)
            ax.set_xlabel(AXIS_NAMES.get(x_key, x_key))
            ax.set_ylabel(panel.label)
            ax.grid(True, which="both", alpha=0.3)
        scaled = [r for panel in panels if panel.scaled for r in column if panel.y(r) is not None]
        _note_scaled(axes[0][col], scaled)
        legend(axes[0][col], len(labels))
    left_out = [r for r in runs if r not in drawable]
    return finish(fig, title, runs, keys, left_out, notes)


PER_EPOCH = Panel("seconds per epoch (steady state)", Run.whole_epoch_s, scaled=True)


def runtime_panels(runs: list[Run]) -> tuple[list[Panel], list[str]]:
    """Seconds per whole epoch, and the total training time of the runs that trained whole epochs (a shortened
    run's total is not what a whole training takes); with the note saying which totals are left out."""
    panels = [PER_EPOCH, Panel("total training time (s)", Run.measured_fit_s)]
    shortened = [r for r in runs if r.partly_timed and r.metrics()["fit_s"] is not None]
    shown = f"total training time not drawn for the {len(shortened)} runs timed on part of each epoch"
    return panels, [shown] if shortened else []


def runtime(runs: list[Run], keys: list[str]) -> Figure | None:
    """Steady-state seconds per whole epoch and total training time against filters and parameter count."""
    panels, notes = runtime_panels(runs)

    def groups(x_key: str) -> list[str]:  # against params, every architecture change is on the x-axis
        return [k for k in keys if k not in (x_key, "seed", *(architecture(keys) if x_key == "params" else ()))]

    return _grid(runs, keys, ["filters", "params"], panels, "Training time against network size", groups, notes)


def params(runs: list[Run], keys: list[str]) -> Figure | None:
    """Parameter count against filters (one line per architecture that varies besides the filters)."""
    group = [k for k in architecture(keys) if k != "filters"]
    panels = [Panel("parameters", lambda r: r.hparams.get("params"))]
    return _grid(runs, keys, ["filters"], panels, "Parameters against filters", lambda _: group)


def kernel_size(runs: list[Run], keys: list[str]) -> Figure | None:
    """Final validation error and seconds per epoch against the kernel size."""
    if "kernel_size" not in keys:
        return None
    panels = [
        Panel("final validation error (%)", lambda r: _in_percent(r.metrics()["val_error"])),
        PER_EPOCH,
    ]

    def groups(x_key: str) -> list[str]:
        return [k for k in keys if k not in (x_key, "seed")]

    return _grid(runs, keys, ["kernel_size"], panels, "Validation error and time against kernel size", groups)


def _in_percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def error_against_time(runs: list[Run], keys: list[str]) -> Figure | None:
    """Validation error against the fit's wall-clock seconds at each validation: one line per run, so that runs
    with different epoch times compare by what they reached when."""
    drawn = [r for r in runs if r.values("val/error") and r.values("time/elapsed_s")]
    if not drawn:
        return None
    fig = new_figure(height=5)
    ax = fig.add_subplot()
    for i, (color, run) in enumerate(zip(colors(len(drawn)), drawn, strict=True)):
        seconds = dict(run.curves["time/elapsed_s"])
        points = [(seconds[step], 100 * error) for step, error in run.curves["val/error"] if step in seconds]
        ax.plot(*zip(*points, strict=True), marker=MARKERS[i % len(MARKERS)], markersize=4, color=color,
                label=describe(run.hparams, keys) or run.name)  # fmt: skip
    if spans_decades([100 * v for r in drawn for v in r.values("val/error")]):
        log_axis(ax)
    ax.set_xlabel("seconds since the fit started")
    ax.set_ylabel("validation error (%)")
    ax.grid(True, which="both", alpha=0.3)
    legend(ax, len(drawn))
    return finish(fig, "Validation error against training time", runs, keys, [r for r in runs if r not in drawn])


FIGURES = {  # file name (without the format's extension) -> drawing
    "learning_curves": learning_curves,
    "error_against_time": error_against_time,
    "runtime": runtime,
    "params": params,
    "kernel_size": kernel_size,
}
