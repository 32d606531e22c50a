"""What ``python -m lenetlab.report`` writes for runs and sweeps, checked against the TensorBoard logs."""

import csv
import json
import re
import shutil
import statistics
from pathlib import Path

import pytest
from conftest import FAST, python_m_in, scalars
from PIL import Image

from lenetlab.data.mnist import DATA_DIR_ENV
from lenetlab.output import percent
from lenetlab.output.figures import DPI
from lenetlab.report.__main__ import main
from lenetlab.report.figures import kernel_size, learning_curves, runtime, runtime_panels
from lenetlab.report.runs import Run, latest, load_runs, varying
from lenetlab.report.tables import rows

FILES = {"learning_curves.png", "error_against_time.png", "runtime.png", "params.png", "summary.csv", "summary.md"}


@pytest.fixture(scope="module")
def sweeps(fake_mnist, tmp_path_factory):
    """Two sweeps on the synthetic data, shared by the tests below (in this process: their command lines are not
    what these tests are about).

    filters 4 and 8 on cpu and on gpu (the gpu jobs fail where no CUDA device is visible), in
    ``<cwd>/outputs/multirun/<date>/<time>``; and seeds 0 and 1 with 5x5 kernels, in ``<tmp>/sweep``.
    """
    cwd, seeds = tmp_path_factory.mktemp("filters"), tmp_path_factory.mktemp("seeds") / "sweep"
    filters = python_m_in(cwd, data(fake_mnist), "lenetlab.train", "-m", *FAST, "model.filters=4,8",
                          "trainer.accelerator=cpu,gpu")  # fmt: skip
    output = filters.stdout + filters.stderr
    assert "4 jobs, 2 finished" in output or "4 jobs, 4 finished" in output, output[-3000:]
    overrides = ["model.filters=4", "model.kernel_size=5", "seed=0,1", f"hydra.sweep.dir={seeds}"]
    result = python_m_in(seeds.parent, data(fake_mnist), "lenetlab.train", "-m", *FAST, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    (filters,) = (cwd / "outputs" / "multirun").glob("*/*")
    return filters, seeds


def data(fake_mnist) -> dict[str, str]:
    return {DATA_DIR_ENV: str(fake_mnist), "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def filters_sweep(sweeps):
    return sweeps[0]


@pytest.fixture(scope="module")
def seeds_sweep(sweeps):
    return sweeps[1]


@pytest.fixture(scope="module")
def latest_report(filters_sweep):
    """``python -m lenetlab.report`` with no argument, where the filters sweep is the latest under outputs/."""
    result = python_m_in(filters_sweep.parents[3], {"MPLBACKEND": "Agg"}, "lenetlab.report")
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _read_csv(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def _number(cell: str) -> float | None:
    return float(cell) if cell else None


def test_latest_sweep_gets_every_figure_and_table(filters_sweep, latest_report):
    out = filters_sweep / "report"
    assert latest_report.stdout.startswith(f"4 runs from outputs/multirun/{filters_sweep.parent.name}/")
    assert {p.name for p in out.iterdir()} == FILES  # no kernel-size figure: the kernel size did not vary
    for png in out.glob("*.png"):
        with Image.open(png) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) >= 300, png
        with Image.open(png) as image:
            assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01), png  # PNG's pHYs chunk


def test_summary_numbers_equal_the_logged_curves(filters_sweep, latest_report):
    rows = _read_csv(filters_sweep / "report" / "summary.csv")
    finished = [row for row in rows if row["status"] == "finished"]
    assert {(row["filters"], row["device"]) for row in finished} >= {("4", "cpu"), ("8", "cpu")}
    for row in finished:
        job = filters_sweep / row["run"]
        curves = scalars(job)
        val = [v for _, v in curves["val/error"]]
        times = [v for _, v in curves["time/train_epoch_s"]]
        assert _number(row["val_error"]) == val[-1]
        assert _number(row["best_val_error"]) == min(val)
        assert _number(row["test_error"]) == curves["test/error"][-1][1]
        assert _number(row["fit_s"]) == curves["time/fit_s"][-1][1]
        assert _number(row["first_epoch_s"]) == times[0]
        assert _number(row["epoch_s"]) == pytest.approx(statistics.mean(times[1:]), rel=1e-12)
        assert int(row["epochs"]) == len(val) == 2
        status = json.loads((job / "status.json").read_text())
        assert int(row["params"]) == status["hparams"]["params"] == status["metrics"]["params"]
        assert f"model.filters={row['filters']}" in row["run"]


def test_failed_jobs_are_listed_with_their_reason(filters_sweep, latest_report):
    rows = _read_csv(filters_sweep / "report" / "summary.csv")
    failed = [row for row in rows if row["status"] == "failed"]
    if not failed:
        pytest.skip("a CUDA device is visible here: the gpu jobs did not fail")
    # values of jobs that never logged come from their Hydra config
    assert sorted((row["filters"], row["device"]) for row in failed) == [("4", "gpu"), ("8", "gpu")]
    markdown = (filters_sweep / "report" / "summary.md").read_text()
    reason = "trainer.accelerator=gpu: no CUDA device visible; use cpu or auto"
    for row in failed:
        assert row["reason"] == reason and row["val_error"] == ""
        assert f"- **failed** filters={row['filters']}, accelerator=gpu: {reason}" in markdown
        assert f"failed     filters={row['filters']}, accelerator=gpu: {reason}" in latest_report.stdout
    assert "4 runs: 2 finished, 2 failed." in markdown


def test_two_sweeps_are_merged(filters_sweep, seeds_sweep, tmp_path):
    out = tmp_path / "merged"
    main([str(filters_sweep), str(seeds_sweep), "--out", str(out)])
    rows = _read_csv(out / "summary.csv")
    assert len(rows) == 6
    assert {row["run"].split("/")[0] for row in rows} == {filters_sweep.name, seeds_sweep.name}
    assert sorted((row["kernel_size"], row["seed"]) for row in rows if row["run"].startswith("sweep/")) == [
        ("5", "0"), ("5", "1")
    ]  # fmt: skip
    # the kernel size varies only across the two sweeps
    assert {p.name for p in out.iterdir()} == FILES | {"kernel_size.png"}


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


def test_a_directory_without_runs_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    for argv, message in [
        (["empty"], "error: no runs in empty: no status.json, .hydra or TensorBoard event files below"),
        (["missing"], "error: missing: no such directory"),
        ([], "error: no runs under outputs/ (train first, or name the run or sweep directories)"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err == message + "\n"


def test_a_search_directory_is_one_unit_and_a_job_without_status_is_unfinished(seeds_sweep, tmp_path):
    # lenetlab.search's layout: its own Hydra dir holding one run dir per trial
    search = tmp_path / "outputs" / "search" / "study"
    (search / ".hydra").mkdir(parents=True)
    jobs = sorted(p for p in seeds_sweep.iterdir() if (p / "status.json").is_file())
    for number, job in enumerate(jobs):
        shutil.copytree(job, search / f"trial_{number}")
    (search / "trial_1" / "status.json").unlink()  # as if killed before its end

    assert latest(tmp_path / "outputs") == search
    runs = {run.name: run for run in load_runs([search])}
    assert sorted(runs) == ["trial_0", "trial_1"]
    assert (runs["trial_0"].status, runs["trial_1"].status) == ("finished", "unfinished")
    assert len(runs["trial_1"].values("val/error")) == 2  # its curves are still read


def test_a_searchs_final_run_is_labelled_apart_from_its_trials_and_not_drawn_as_one(
    filters_sweep, seeds_sweep, tmp_path
):
    search = tmp_path / "search"  # lenetlab.search's layout: trial_<N>/, best.yaml, then final/
    (search / ".hydra").mkdir(parents=True)
    for number, job in enumerate(sorted(p for p in seeds_sweep.iterdir() if (p / "status.json").is_file())):
        shutil.copytree(job, search / f"trial_{number}")  # two trials of 4 filters
    (search / "best.yaml").write_text("defaults: [train, _self_]\n")
    cpu_8 = next(p for p in filters_sweep.iterdir() if "model.filters=8" in p.name and "gpu" not in p.name)
    shutil.copytree(cpu_8, search / "final", ignore=shutil.ignore_patterns("report"))  # retrained: 8 filters

    runs = {run.name: run for run in load_runs([search])}
    assert [name for name, run in runs.items() if run.final] == ["final"]
    main([str(search)])
    report = search / "report"
    # the trials vary no filters: no runtime or params figure, where the final run would make one of its own point
    assert {p.name for p in report.iterdir()} == {
        "learning_curves.png",
        "error_against_time.png",
        "summary.csv",
        "summary.md",
    }
    summary = (report / "summary.md").read_text()
    test_error = runs["final"].metrics()["test_error"]
    assert "**Final run** (`final`): the best trial's values (seed=0) retrained" in summary
    assert f"scored on the test set: test error {percent(test_error)}." in summary
    assert summary.count("| finished |") == 2  # the trials' table
    assert [row["run"] for row in _read_csv(report / "summary.csv")][-1] == "final"


def test_an_interrupted_run_is_listed_with_how_to_continue_it(seeds_sweep, tmp_path):
    from lenetlab.run.status import interrupted_reason, write_status

    sweep = tmp_path / "sweep"
    shutil.copytree(seeds_sweep, sweep, ignore=shutil.ignore_patterns("report"))
    job = next(p for p in sorted(sweep.iterdir()) if (p / "status.json").is_file())
    write_status(job, "interrupted", reason=interrupted_reason(0), last_epoch=0)  # as lenetlab.train writes it

    runs = {run.name: run for run in load_runs([sweep])}
    assert sorted(runs) == sorted(p.name for p in sweep.iterdir() if (p / ".hydra").is_dir())  # not the sweep root
    assert runs[job.name].status == "interrupted" and runs[job.name].hparams["seed"] in (0, 1)
    main([str(sweep)])
    summary = (sweep / "report" / "summary.md").read_text()
    assert f"**interrupted** seed={runs[job.name].hparams['seed']}: {interrupted_reason(0)}" in summary


def test_a_run_kept_without_event_files_reports_what_its_status_recorded(filters_sweep, tmp_path):
    """Runs committed as text only (status.json and .hydra, as docs/reproduction keeps the GPU runs) still count."""
    job = next(p for p in filters_sweep.iterdir() if (p / "status.json").is_file() and "model.filters=8" in p.name)
    kept = tmp_path / job.name
    shutil.copytree(job, kept, ignore=shutil.ignore_patterns("events.out.tfevents.*", "*.ckpt"))
    (run,) = load_runs([kept])
    recorded = json.loads((kept / "status.json").read_text())["metrics"]
    assert run.curves == {}
    assert run.metrics()["best_val_error"] == recorded["best_val_error"]
    assert run.metrics()["epoch_s"] == recorded["steady_epoch_s"]
    assert run.hparams["filters"] == 8


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
