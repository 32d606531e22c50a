"""The report's look, shared by its figures and the search's: figure, axes, legend and notes."""

from __future__ import annotations

import textwrap

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, NullFormatter, ScalarFormatter

from lenetlab.report.runs import NOT_SWEPT, Run, describe, fmt

MAX_SWEPT_TICKS = 12
MARKERS = "osD^vP*Xph<>"  # with the colours, keeps a dozen overlapping lines apart


def numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def spans_decades(values) -> bool:
    values = [v for v in values if numeric(v)]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 10


def colors(n: int) -> list:
    return [colormaps["tab10" if n <= 10 else "tab20"](i % 20) for i in range(n)]


def shared_settings(runs: list[Run], keys: list[str]) -> str:
    """The settings all runs share (for the subtitle)."""
    shared = {}
    for run in runs:
        for key, value in run.hparams.items():
            if value is not None and key not in keys and key not in NOT_SWEPT:
                shared.setdefault(key, value)
    return ", ".join(f"{key}={fmt(value)}" for key, value in shared.items())


def new_figure(width: float = 7.5, height: float = 4.5) -> Figure:
    """An empty figure of the report's style (the search's figures use it too)."""
    return Figure(figsize=(width, height), layout="constrained")


def finish(fig: Figure, title: str, runs: list[Run], keys: list[str], left_out: list[Run], notes=()) -> Figure:
    """Title, the shared settings, ``notes``, and the runs that could not be drawn (so none is silently dropped)."""
    notes = [shared_settings(runs, keys), *notes]
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


def swept_axis(axis, values, scale_setter) -> None:
    """Log axis when the swept values span decades; ticks at the swept values when few."""
    values = sorted({v for v in values if numeric(v)})
    if spans_decades(values):
        scale_setter("log", base=2 if all(isinstance(v, int) for v in values) else 10)
    if len(values) <= MAX_SWEPT_TICKS:
        axis.set_ticks(values)
        axis.set_major_formatter(ScalarFormatter() if all(isinstance(v, int) for v in values) else "{x:g}")
        axis.set_minor_formatter(NullFormatter())


class _PlainLog(LogFormatter):
    """LogFormatter's choice of ticks to label, written plainly: 40, 0.5, 100,000 (not 4x10^1)."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:,.0f}" if x >= 1 else f"{x:.2g}"


def log_axis(ax, which: str = "y") -> None:
    """A log axis labelled with plain numbers."""
    axis, set_scale = (ax.yaxis, ax.set_yscale) if which == "y" else (ax.xaxis, ax.set_xscale)
    set_scale("log")
    axis.set_major_formatter(_PlainLog(labelOnlyBase=False))
    # minor labels only on y: on x, wide numbers such as 300,000 would run into each other
    minor = _PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)) if which == "y" else NullFormatter()
    axis.set_minor_formatter(minor)


def legend(ax, n: int) -> None:
    """The axes' legend, beside the plot when it lists more than six entries."""
    if not ax.get_legend_handles_labels()[0]:  # nothing labelled to list (a single run)
        return
    if n > 6:  # beside the plot, not over the lines
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    else:
        ax.legend(fontsize="small")
