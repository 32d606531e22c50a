"""The search's figures in the report's style: errors in percent, pruned trials drawn hollow and grey.

``history``: each trial's error by trial number and the best so far; ``params``: the error against each
sampled parameter over its whole range; ``importances``: Optuna's fANOVA importance of each parameter.
A pruned trial is drawn at the last validation error it reported before it was stopped.
"""

from __future__ import annotations

import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from lenetlab.report.style import legend, log_axis, new_figure

COMPLETE = {"color": "tab:blue", "marker": "o", "linestyle": "none"}
PRUNED = {"color": "0.55", "marker": "o", "markerfacecolor": "none", "linestyle": "none"}
ERROR_LABEL = "best validation error (%)"


def error_pct(trial: FrozenTrial) -> float | None:
    """A completed trial's best validation error, a pruned one's last reported error, in percent."""
    if trial.state == TrialState.COMPLETE:
        return 100 * trial.value
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return 100 * trial.intermediate_values[max(trial.intermediate_values)]
    return None


def drawn_trials(study: optuna.Study) -> dict[str, list[FrozenTrial]]:
    """The completed and the pruned trials that have an error to draw."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    drawn = [t for t in trials if error_pct(t) is not None]
    return {state: [t for t in drawn if t.state.name.lower() == state] for state in ("complete", "pruned")}


def _errors_axis(ax, errors: list[float]) -> None:
    if errors and min(errors) > 0 and max(errors) / min(errors) >= 10:
        log_axis(ax)
    ax.set_ylabel(ERROR_LABEL)
    ax.grid(True, which="both", alpha=0.3)


def _pruned_label(n: int) -> str:
    return f"pruned ({n}): last error reported"


def history(study: optuna.Study) -> Figure | None:
    """Each trial's error against its number, pruned ones hollow, and the best completed error so far."""
    trials = drawn_trials(study)
    if not trials["complete"]:
        return None
    fig = new_figure()
    ax = fig.add_subplot()
    complete = sorted(trials["complete"], key=lambda t: t.number)
    ax.plot([t.number for t in complete], [error_pct(t) for t in complete], **COMPLETE,
            label=f"complete ({len(complete)})")  # fmt: skip
    if pruned := trials["pruned"]:
        ax.plot([t.number for t in pruned], [error_pct(t) for t in pruned], **PRUNED, label=_pruned_label(len(pruned)))
    best, so_far = [], float("inf")
    for trial in complete:
        so_far = min(so_far, error_pct(trial))
        best.append(so_far)
    last = max(t.number for group in trials.values() for t in group)
    ax.step([t.number for t in complete] + [last], best + best[-1:], where="post", color="tab:red", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    _errors_axis(ax, [error_pct(t) for group in trials.values() for t in group])
    legend(ax, 3)
    fig.suptitle(f"Search {study.study_name!r}: validation error of each trial", fontweight="bold")
    return fig


def _sampled_axis(ax, dist: BaseDistribution) -> None:
    """The whole sampled range on the x axis (a little wider), log where log-sampled, integers ticked at powers of 2."""
    if isinstance(dist, CategoricalDistribution):
        return
    if dist.log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        if isinstance(dist, IntDistribution):
            ax.set_xticks([2**k for k in range(dist.low.bit_length() - 1, dist.high.bit_length()) if dist.low <= 2**k])
            ax.xaxis.set_major_formatter(ScalarFormatter())
    if dist.log:  # a little room on both sides, so draws at the bounds show whole
        pad = (dist.high / dist.low) ** 0.03
        ax.set_xlim(dist.low / pad, dist.high * pad)
    else:
        pad = 0.03 * (dist.high - dist.low)
        ax.set_xlim(dist.low - pad, dist.high + pad)


def params(study: optuna.Study) -> Figure | None:
    """The error against each sampled parameter, one panel per parameter (categories as their choices)."""
    trials = drawn_trials(study)
    every = trials["complete"] + trials["pruned"]
    if not trials["complete"]:
        return None
    names = list(dict.fromkeys(name for t in every for name in t.distributions))
    fig = new_figure(width=3.2 * len(names) + 0.8, height=3.8)
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        dist = next(t.distributions[name] for t in every if name in t.distributions)
        categories = [str(c) for c in dist.choices] if isinstance(dist, CategoricalDistribution) else None
        for state, style in (("complete", COMPLETE), ("pruned", PRUNED)):
            group = [t for t in trials[state] if name in t.params]
            label = f"complete ({len(group)})" if state == "complete" else _pruned_label(len(group))
            xs = [categories.index(str(t.params[name])) if categories else t.params[name] for t in group]
            ax.plot(xs, [error_pct(t) for t in group], **style, alpha=0.8, label=label if group else None)
        if categories:
            ax.set_xticks(range(len(categories)), categories)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        _sampled_axis(ax, dist)
        ax.set_xlabel(name)
        _errors_axis(ax, [error_pct(t) for t in every])
        if ax is not axes[0]:
            ax.set_ylabel("")
    legend(axes[-1], 2)
    fig.suptitle(f"Search {study.study_name!r}: validation error against each sampled value", fontweight="bold")
    return fig


def importances(study: optuna.Study) -> Figure | None:
    """Optuna's importance of each parameter for the completed trials' error (needs two different results)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len({t.value for t in complete}) < 2:
        return None
    shares = optuna.importance.get_param_importances(study)
    names = list(reversed(shares))  # the most important on top
    fig = new_figure(height=1.2 + 0.5 * len(names))
    ax = fig.add_subplot()
    ax.barh(names, [100 * shares[n] for n in names], color="tab:blue")
    for y, name in enumerate(names):
        ax.annotate(f"{100 * shares[name]:.0f}%", (100 * shares[name], y), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")  # fmt: skip
    ax.set_xlim(0, 110)
    ax.set_xlabel(f"share of the variance of the validation error ({len(complete)} completed trials, fANOVA)")
    ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"Search {study.study_name!r}: which parameters mattered", fontweight="bold")
    return fig


FIGURES = {"history": history, "params": params, "importances": importances}
