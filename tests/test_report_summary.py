"""What ``python -m lenetlab.report`` finds and summarises: the runs of a sweep, several sweeps or a search, their
summary tables checked against the TensorBoard logs, failed and interrupted runs with their reasons, and a
directory without runs refused in one line."""

import csv
import json
import shutil
import statistics

import pytest
from conftest import python_m_in, scalars
from PIL import Image

from lenetlab.output import percent
from lenetlab.output.figures import DPI
from lenetlab.report.__main__ import main
from lenetlab.report.runs import latest, load_runs

FILES = {"learning_curves.png", "error_against_time.png", "runtime.png", "params.png", "summary.csv", "summary.md"}


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
