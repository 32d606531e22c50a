"""``python -m lenetlab.search``: what a search writes, how it resumes, how workers share a study, what Ctrl-C
during a trial shows."""

import csv
import io
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import ROOT, scalars
from optuna.trial import TrialState
from PIL import Image
from test_search_space import TINY, compose_search

from lenetlab.output import percent
from lenetlab.output.figures import DPI
from lenetlab.run.status import read_status
from lenetlab.search import make_objective, search_space
from lenetlab.search.cli import quiet_optuna
from lenetlab.search.study import PruneOnValError

SHORT_HEARTBEAT = ["search.heartbeat_interval=1", "search.grace_period=2"]
# the recipe search, as docs/search.md gives it
RECIPE = ["search_space=recipe", "experiment=recipe", "search.sampler=tpe", "search.pruner=hyperband"]
HPARAM_OF = {"lr": "lr", "filters": "filters", "kernel_size": "kernel_size", "batch_size": "batch_size"}


def study_of(search_dir, name="lenet") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{search_dir / 'study.db'}")


def states(study: optuna.Study) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_search_writes_trials_best_figures_and_a_final_test_run(run_main, tmp_path):
    out = tmp_path / "search"
    result = run_main("lenetlab.search", *TINY, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]

    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [(r["number"], r["state"]) for r in rows] == [("0", "COMPLETE"), ("1", "COMPLETE"), ("2", "COMPLETE")]
    for row in rows:  # each trial is a normal lenetlab run holding exactly the sampled values
        run = out / f"trial_{row['number']}"
        status = read_status(run)
        assert status["status"] == row["user_attrs_status"] == "finished"
        assert math.isclose(status["metrics"]["best_val_error"], float(row["best_val_error"]), rel_tol=1e-6)
        for name, hparam in HPARAM_OF.items():
            assert float(status["hparams"][hparam]) == pytest.approx(float(row[f"params_{name}"]))
        assert [step for step, _ in scalars(run)["val/error"]] == [0]
        assert row["user_attrs_run_dir"] == run.name  # relative to the search folder: no path of this machine
        assert "test_error" not in status["metrics"] and "test/error" not in scalars(run)  # chosen by validation only
    assert {"history.png", "params.png"} <= {p.name for p in out.glob("*.png")}
    for png in out.glob("*.png"):  # the report's resolution
        with Image.open(png) as image:
            assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01), png.name
    assert len({r["best_val_error"] for r in rows}) >= 2  # trials that differ: their importances can be drawn
    assert (out / "importances.png").is_file()

    best = min(rows, key=lambda r: float(r["best_val_error"]))
    assert f"best: trial {best['number']}" in result.stdout
    final = json.loads((out / "final.json").read_text())
    assert (final["trial"], final["run_dir"]) == (int(best["number"]), "final")
    final_status = read_status(out / "final")
    assert final_status["metrics"]["test_error"] == final["test_error"] is not None  # the one run tested
    assert final_status["metrics"]["best_val_error"] is None  # no validation: its images were trained on
    # what a person reads is in percent; trials.csv and final.json keep full precision
    assert f"best: trial {best['number']}, val error {percent(float(best['best_val_error']))}" in result.stdout
    assert f"test error {percent(final['test_error'])}" in result.stdout
    for row in rows:
        assert f"trial {row['number']} complete: val error {percent(float(row['best_val_error']))} (" in result.stdout
    assert "Trial 0 finished with value" not in result.stdout + result.stderr  # Optuna's full-precision line
    assert study_of(out).metric_names == ["val_error"]  # optuna-dashboard's name for the objective
    assert "could not find the monitored key" not in result.stdout + result.stderr  # the final run validates nothing

    # best.yaml is a config lenetlab.train runs as it is, its command relative to where the search ran
    assert (
        f"python -m lenetlab.train --config-dir {os.path.relpath(out)} --config-name best"
        in (out / "best.yaml").read_text()
    )
    run = tmp_path / "best-run"
    trained = run_main("lenetlab.train", "--config-dir", str(out), "--config-name", "best", f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    hparams = read_status(run)["hparams"]
    for name, hparam in HPARAM_OF.items():
        assert float(hparams[hparam]) == pytest.approx(float(best[f"params_{name}"]))
    assert hparams["max_epochs"] == 1


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_a_search_whose_trials_all_fail_stops_after_max_failed_in_a_row(run_main, tmp_path):
    out = tmp_path / "search"
    # learning rates so large that every trial diverges at its first step, before any validation
    args = [*TINY, "search.n_trials=5", "search.max_failed_in_a_row=2", "search.space.lr.low=1e20"]
    result = run_main("lenetlab.search", *args, "search.space.lr.high=1e21", f"hydra.run.dir={out}")
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"error: the last 2 trials failed (search.max_failed_in_a_row): see {out / 'trial_1'}/status.json" in (
        result.stderr
    )
    assert states(study_of(out)) == {"FAIL": 2}
    assert read_status(out / "trial_1")["status"] == "diverged"


def test_a_trial_is_not_tested_and_an_interrupted_one_says_to_rerun_the_search(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    cfg = compose_search(*TINY)
    objective = make_objective(cfg, search_space(cfg), tmp_path)
    study = optuna.create_study()
    study.optimize(objective, n_trials=1)
    assert "test_error" not in read_status(tmp_path / "trial_0")["metrics"]
    assert "test/error" not in scalars(tmp_path / "trial_0")

    def ctrl_c(self, trainer, pl_module):
        raise KeyboardInterrupt

    monkeypatch.setattr(PruneOnValError, "on_validation_end", ctrl_c)
    on_sigint = signal.getsignal(signal.SIGINT)  # Lightning ignores a second Ctrl-C while it shuts down
    try:
        with pytest.raises(KeyboardInterrupt):
            study.optimize(objective, n_trials=1)
    finally:
        signal.signal(signal.SIGINT, on_sigint)
    status = read_status(tmp_path / "trial_1")
    assert status["status"] == "interrupted"
    assert status["reason"].endswith(": run the same command to continue the search"), status["reason"]


def _popen(args, fake_mnist, cwd):
    env = {**os.environ, "LENETLAB_DATA_DIR": str(fake_mnist), "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "lenetlab.search", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_trials(process: subprocess.Popen, out, state: str) -> None:
    """Until the search running in ``process`` has a trial in ``state`` (or has ended, or 4 minutes passed)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if (out / "study.db").is_file() and states(study_of(out)).get(state, 0) >= 1:
                return
        except Exception:  # the database or the study is not created yet
            pass
        time.sleep(0.2)


@pytest.mark.slow
def test_a_killed_search_rerun_ends_with_exactly_the_requested_trials(run_main, fake_mnist, tmp_path):
    out = tmp_path / "search"
    args = [*TINY, *SHORT_HEARTBEAT, "search.final=false", f"hydra.run.dir={out}"]
    first = _popen(args, fake_mnist, tmp_path)
    wait_for_trials(first, out, "COMPLETE")
    assert first.poll() is None, "the search ended before it could be killed"
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = states(study_of(out))
    assert killed.get("COMPLETE", 0) < 3

    result = run_main("lenetlab.search", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    study = study_of(out)
    after = states(study)
    assert after.get("COMPLETE") == 3
    assert "RUNNING" not in after  # the killed process's trial is marked FAIL, not counted
    assert after.get("FAIL", 0) == killed.get("RUNNING", 0)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len({t.user_attrs["run_dir"] for t in complete}) == 3
    assert len({json.dumps(t.params, sort_keys=True) for t in complete}) == 3
    assert all(read_status(out / f"trial_{t.number}")["status"] == "finished" for t in complete)
    for dead in (t for t in study.trials if t.state == TrialState.FAIL and "run_dir" in t.user_attrs):
        assert "process died" in read_status(out / f"trial_{dead.number}")["reason"]


@pytest.mark.slow
def test_two_workers_sharing_a_study_complete_exactly_n_trials(run_main, fake_mnist, tmp_path):
    # the recipe's space: its Hyperband pruner ends trials early, so the workers share complete and pruned ones
    out = tmp_path / "search"
    space = [*RECIPE, "trainer.max_epochs=2"]
    args = [*TINY, *space, "search.n_trials=4", *SHORT_HEARTBEAT, "search.final=false", f"hydra.run.dir={out}"]
    other = _popen(args, fake_mnist, tmp_path)  # one worker in a process of its own, the second in this one
    wait_for_trials(other, out, "RUNNING")  # joins the study while the first works on it
    here = run_main("lenetlab.search", *args)
    _, stderr = other.communicate(timeout=300)
    assert other.returncode == 0, stderr[-3000:]
    assert here.returncode == 0, here.stderr[-3000:]
    study = study_of(out)
    done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]  # Hyperband prunes
    assert len(done) == 4
    assert "RUNNING" not in states(study)
    assert len({t.user_attrs["run_dir"] for t in done}) == 4
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert sum(r["state"] in ("COMPLETE", "PRUNED") for r in rows) == 4


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_the_recipe_search_samples_the_recipe_and_its_best_retrains(run_main, tmp_path):
    out = tmp_path / "search"
    args = [*RECIPE, *TINY, "trainer.max_epochs=2", "search.n_trials=4", f"hydra.run.dir={out}"]
    result = run_main("lenetlab.search", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 4 and {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}
    names = ("lr", "momentum", "weight_decay", "schedule", "augment", "label_smoothing", "dropout")
    schedulers = {"onecycle": "OneCycleLR", "cosine": "CosineAnnealingLR", "none": "none"}
    for row in rows:  # each trial ran with exactly its sampled recipe
        hparams = read_status(out / f"trial_{row['number']}")["hparams"]
        for name in ("lr", "momentum", "weight_decay", "augment", "label_smoothing", "dropout"):
            assert float(hparams[name]) == pytest.approx(float(row[f"params_{name}"])), name
        assert hparams["scheduler"] == schedulers[row["params_schedule"]]
        assert hparams["params"] == 104_250  # the network is the lab's
    assert all(f"params_{name}" in rows[0] for name in names)

    # best.yaml names the sampled schedule as a config group choice and trains as it is
    best = min((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: float(r["best_val_error"]))
    saved = (out / "best.yaml").read_text()
    # a schedule other than train.yaml's default (none) is written as a config group choice
    assert (f"override /scheduler: {best['params_schedule']}" in saved) == (best["params_schedule"] != "none")
    run = tmp_path / "best-run"
    trained = run_main("lenetlab.train", "--config-dir", str(out), "--config-name", "best", f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-3000:]
    hparams = read_status(run)["hparams"]
    assert float(hparams["weight_decay"]) == pytest.approx(float(best["params_weight_decay"]))
    assert float(hparams["augment"]) == pytest.approx(float(best["params_augment"]))
    assert hparams["scheduler"] == schedulers[best["params_schedule"]]
    assert (hparams["max_epochs"], hparams["params"]) == (2, 104_250)


def test_ctrl_c_during_a_trial_is_one_warning_line_without_a_traceback():
    quiet_optuna()
    shown = io.StringIO()
    handlers = [h for h in logging.getLogger("optuna").handlers if isinstance(h, logging.StreamHandler)]
    streams = [handler.setStream(shown) for handler in handlers]  # Optuna's own handler, here into a string

    def stopped(trial):
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            optuna.create_study().optimize(stopped, n_trials=1)
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
    assert "Trial 0 failed with parameters: {} because of the following error: KeyboardInterrupt()." in shown.getvalue()
    assert "Traceback" not in shown.getvalue()
