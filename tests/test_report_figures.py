"""The figures of ``python -m lenetlab.report``: written in every listed format at the report's resolution, what
they draw (seeds as a mean and band, a search's trials as points, runs timed on part of each epoch scaled and
marked), and what they leave out (a network without filters or kernel size to vary)."""

import re
import statistics
from pathlib import Path

import pytest
from conftest import FAST, python_m_in
from PIL import Image
from report_sweeps import data

from lenetlab.output.figures import DPI
from lenetlab.report.__main__ import main
from lenetlab.report.figures import kernel_size, learning_curves, runtime, runtime_panels
from lenetlab.report.runs import Run, load_runs, varying
from lenetlab.report.tables import rows


def test_figures_are_written_in_every_listed_format(filters_sweep, tmp_path):
    out = tmp_path / "paper"
    main([str(filters_sweep), "--out", str(out), "--format", "pdf,png"])
    stems = ("learning_curves", "error_against_time", "runtime", "params")
    assert {p.name for p in out.iterdir()} == {f"{s}.{f}" for s in stems for f in ("pdf", "png")} | {
        "summary.csv", "summary.md"
    }  # fmt: skip
    for stem in stems:
        pdf = (out / f"{stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"), stem
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1, stem  # one page (not counting /Pages)
        # fonts embedded as TrueType (Type 42), not Type 3
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf, stem
        with Image.open(out / f"{stem}.png") as image:
            assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01), stem
    runs = load_runs([filters_sweep])
    inches = learning_curves(runs, varying(runs)).get_size_inches()
    with Image.open(out / "learning_curves.png") as image:
        assert image.size == tuple(round(DPI * v) for v in inches)
    markdown = (out / "summary.md").read_text()
    assert "![learning_curves.png](learning_curves.png)" in markdown and "[runtime.pdf](runtime.pdf)" in markdown


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ("pdf,jpg", "error: --format jpg: not a figure format; choose from png, pdf, svg, eps"),
        ("", "error: --format '': not a figure format; choose from png, pdf, svg, eps"),
    ],
)
def test_an_unknown_figure_format_is_refused_before_anything_is_written(
    filters_sweep, tmp_path, capsys, formats, message
):
    out = tmp_path / "paper"
    with pytest.raises(SystemExit) as stop:
        main([str(filters_sweep), "--out", str(out), "--format", formats])
    assert stop.value.code == 2
    assert capsys.readouterr().err == message + "\n"
    assert not out.exists()


def test_runs_differing_only_by_seed_are_drawn_as_mean_and_band(seeds_sweep):
    runs = load_runs([seeds_sweep])
    assert varying(runs) == ["seed"]
    axes = learning_curves(runs, ["seed"]).axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["mean of 2 seeds, band min–max"]
    assert len(axes.collections) == 1  # the band
    (line,) = axes.get_lines()
    curves = [r.values("val/error") for r in runs]
    assert list(line.get_ydata()) == pytest.approx([100 * statistics.mean(v) for v in zip(*curves, strict=True)])
    assert list(line.get_xdata()) == [1, 2]  # epochs trained


@pytest.fixture(scope="module")
def shortened_sweep(fake_mnist, tmp_path_factory):
    """filters 4 and 8 with 5x5 kernels, each epoch cut to half its batches (``trainer.limit_train_batches=0.5``)."""
    out = tmp_path_factory.mktemp("shortened") / "sweep"
    overrides = [
        "model.filters=4,8",
        "model.kernel_size=5",
        "trainer.limit_train_batches=0.5",
        f"hydra.sweep.dir={out}",
    ]
    result = python_m_in(out.parent, data(fake_mnist), "lenetlab.train", "-m", *FAST, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _marked(ax) -> dict[bool, set]:
    """The x values of an axes' markers, by whether they are hollow."""
    points = {True: set(), False: set()}
    for line in ax.get_lines():
        if line.get_marker() in ("None", "", None) or not len(line.get_xdata()):
            continue
        every = line.get_markevery()
        xs = [line.get_xdata()[i] for i in every] if every is not None else list(line.get_xdata())
        points[line.get_markerfacecolor() == "none"].update(xs)
    return points


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_a_sweep_timed_on_part_of_each_epoch_is_scaled_marked_and_has_no_total(
    shortened_sweep, filters_sweep, fake_mnist, monkeypatch
):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    shortened = load_runs([shortened_sweep])
    whole = [r for r in load_runs([filters_sweep]) if r.status == "finished"]
    assert {r.epoch_fraction for r in shortened} == {10 / 20}  # 1,000 training images in batches of 50
    assert {r.epoch_fraction for r in whole} == {1.0}
    for run in shortened:  # the per-epoch time drawn is the logged one scaled to the whole epoch
        assert run.whole_epoch_s() == pytest.approx(run.metrics()["epoch_s"] * 2)
        assert run.metrics()["fit_s"] is not None and run.measured_fit_s() is None

    runs = shortened + whole
    panels, notes = runtime_panels(runs)
    total = panels[1]
    assert [total.y(r) is None for r in runs] == [True] * len(shortened) + [False] * len(whole)
    assert notes == [f"total training time not drawn for the {len(shortened)} runs timed on part of each epoch"]

    figure = runtime(runs, varying(runs))
    per_epoch_ax, total_ax = figure.axes[0], figure.axes[2]  # rows: per epoch, total; columns: filters, params
    assert per_epoch_ax.get_ylabel().startswith("seconds per epoch") and total_ax.get_ylabel().startswith("total")
    hollow = [
        line for line in per_epoch_ax.get_lines() if line.get_markerfacecolor() == "none" and len(line.get_xdata())
    ]
    assert sorted(x for line in hollow for x in line.get_xdata()) == [4, 8]  # the 5x5 runs, scaled
    assert sorted(y for line in hollow for y in line.get_ydata()) == sorted(r.whole_epoch_s() for r in shortened)
    assert _marked(per_epoch_ax)[False] == {4, 8}  # the 3x3 runs, whole epochs
    legend = [t.get_text() for t in per_epoch_ax.get_legend().get_texts()]
    assert "hollow: timed on 50% of each epoch, scaled to a whole one" in legend
    assert _marked(total_ax) == {True: set(), False: {4, 8}}
    totals = sorted(y for line in total_ax.get_lines() for y in line.get_ydata())
    assert totals == sorted(r.metrics()["fit_s"] for r in whole)  # only the measured totals, none scaled or cut

    table = rows(runs, varying(runs))  # the summary says which runs' seconds are a part-epoch's
    assert [row["epoch_share"] for row in table] == [0.5] * len(shortened) + [1.0] * len(whole)
    alone = runtime(shortened, varying(shortened))  # no measured total at all: no total panel
    assert [ax.get_ylabel() for ax in alone.axes] == ["seconds per epoch (steady state)"] * 2


def test_an_mlp_has_no_filters_or_kernel_size_to_vary_or_to_draw():
    def run(name, model, filters, kernel, hidden, params, epoch_s):
        hparams = {"model": model, "filters": filters, "kernel_size": kernel, "hidden": hidden, "params": params}
        hparams = {key: value for key, value in hparams.items() if value is not None}  # a key the network lacks
        curves = {"val/error": [(0, 0.2), (1, 0.1)], "time/train_epoch_s": [(0, 2 * epoch_s), (1, epoch_s)]}
        return Run(Path(name), name, "finished", hparams=hparams, curves=curves)

    mlp = run("mlp", "MLP", None, None, "300", 238_510, 1.6)  # a network without convolutions logs no filters
    tiny = run("tiny", "LeNet", "16-4", 3, "none", 2_710, 5.7)
    assert varying([mlp, tiny]) == ["model", "hidden"]  # report 003's pair: no filters or kernel size to compare
    assert kernel_size([mlp, tiny], varying([mlp, tiny])) is None

    lenets = [run(f"lenet{f}", "LeNet", f, 3, "128", p, s) for f, p, s in ((16, 104_250, 3.0), (32, 211_690, 6.0))]
    runs = [mlp, *lenets]
    assert varying(runs) == ["model", "hidden", "filters"]  # in the order the runs logged them: the MLP first
    against_filters = runtime(runs, varying(runs)).axes[0]
    assert sorted(x for line in against_filters.get_lines() for x in line.get_xdata()) == [16, 32]  # no MLP at 0


def test_a_search_of_many_trials_names_the_best_five_curves_and_draws_each_trial_as_a_point():
    trials = [
        Run(Path(f"trial_{i}"), f"trial_{i}", "finished",
            hparams={"kernel_size": 3 + 2 * (i % 2), "lr": 0.001 * (i + 1), "batch_size": 16 + i},
            curves={"val/error": [(0, 0.5), (1, 0.01 * (i + 1))], "time/train_epoch_s": [(0, 2.0), (1, 1.0 + i)]})
        for i in range(15)
    ]  # fmt: skip
    axes = learning_curves(trials, varying(trials)).axes[0]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels[0] == "the other 10 runs" and len(labels) == 6
    assert [label.split(", ")[1] for label in labels[1:]] == [f"lr={0.001 * (i + 1):g}" for i in range(5)]  # lowest
    assert sum(len(line.get_xdata()) == 2 for line in axes.get_lines()) == 15  # every trial's curve is drawn

    figure = kernel_size(trials, varying(trials))
    per_epoch = figure.axes[1]
    assert per_epoch.get_legend() is None  # no legend entry per trial
    xs = sorted(x for line in per_epoch.get_lines() for x in line.get_xdata())
    assert xs == sorted(3 + 2 * (i % 2) for i in range(15))  # one point per trial, none averaged away
    assert all(line.get_linestyle() == "None" for line in per_epoch.get_lines() if len(line.get_xdata()))
