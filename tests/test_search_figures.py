"""The search's figures: errors in percent as in the report, pruned trials drawn hollow at their last error."""

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from lenetlab.search.figures import history, importances, params
from lenetlab.search.outputs import write_figures

SPACE = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "filters": IntDistribution(8, 64, log=True),
    "kernel_size": CategoricalDistribution([3, 5]),
}
COMPLETE = [(0.05, 0.01, 16, 3), (0.02, 0.04, 32, 5), (0.03, 0.002, 8, 3), (0.015, 0.03, 64, 5)]
PRUNED = [({0: 0.6, 1: 0.4}, 0.0003, 16, 5), ({0: 0.3}, 0.08, 8, 3)]  # (reported errors by epoch, values)


@pytest.fixture
def study():
    """Four completed and two pruned trials, in the order a search would record them."""
    study = optuna.create_study(study_name="report004", direction="minimize")
    trials = [(value, None, values) for value, *values in COMPLETE] + [(None, seen, values) for seen, *values in PRUNED]
    for value, seen, (lr, filters, kernel) in trials:
        study.add_trial(
            create_trial(
                state=TrialState.COMPLETE if value is not None else TrialState.PRUNED,
                value=value,
                params={"lr": lr, "filters": filters, "kernel_size": kernel},
                distributions=SPACE,
                intermediate_values=seen or {0: value},
            )
        )
    return study


def _points(ax) -> dict[str, list[tuple[float, float]]]:
    """Each labelled line's (x, y) points, by the first word of its label; pruned ones checked to be hollow."""
    points = {}
    for line in ax.get_lines():
        label = line.get_label()
        if not label.startswith("_"):
            if label.startswith("pruned"):
                assert line.get_markerfacecolor() == "none"
            points[label.split()[0]] = list(zip(line.get_xdata(), line.get_ydata(), strict=True))
    return points


def test_history_is_in_percent_and_shows_pruned_trials_at_their_last_error(study):
    (ax,) = history(study).axes
    points = _points(ax)
    assert points["complete"] == [(0, 5.0), (1, 2.0), (2, 3.0), (3, 1.5)]
    assert points["pruned"] == [(4, pytest.approx(40.0)), (5, pytest.approx(30.0))]  # the last epoch each reported
    assert [y for _, y in points["best"]] == [5.0, 2.0, 2.0, 1.5, 1.5]  # best so far, to the last trial
    assert ax.get_ylabel() == "best validation error (%)"
    assert "pruned (2): last error reported" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_params_are_drawn_over_the_sampled_range_in_percent(study):
    axes = params(study).axes
    assert [ax.get_xlabel() for ax in axes] == ["lr", "filters", "kernel_size"]
    lr, filters, kernel = (_points(ax) for ax in axes)
    assert [x for x, _ in filters["complete"]] == [16, 32, 8, 64]
    assert lr["complete"] == [(0.01, 5.0), (0.04, 2.0), (0.002, 3.0), (0.03, 1.5)]
    assert lr["pruned"] == [(0.0003, pytest.approx(40.0)), (0.08, pytest.approx(30.0))]
    low, high = axes[0].get_xlim()  # the whole sampled range
    assert axes[0].get_xscale() == "log" and 0.8e-4 < low <= 1e-4 and 1e-1 <= high < 1.25e-1
    assert [t.get_text() for t in axes[2].get_xticklabels()] == ["3", "5"]
    assert [x for x, _ in kernel["complete"]] == [0, 1, 0, 1]  # category positions
    assert axes[0].get_ylabel() == "best validation error (%)"


def test_importances_need_two_different_results_and_sum_to_a_whole(study):
    (ax,) = importances(study).axes
    widths = [bar.get_width() for bar in ax.patches]
    assert len(widths) == 3 and sum(widths) == pytest.approx(100)
    single = optuna.create_study()
    single.add_trial(create_trial(value=0.1, params={"lr": 0.01}, distributions={"lr": SPACE["lr"]}))
    assert importances(single) is None


def test_the_search_writes_the_three_figures(study, tmp_path):
    assert write_figures(study, tmp_path) == ["history.png", "params.png", "importances.png"]
    assert {p.name for p in tmp_path.iterdir()} == {"history.png", "params.png", "importances.png"}
