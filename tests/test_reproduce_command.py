"""``python -m lenetlab.reproduce``: what it writes, which input it refuses before writing anything, how it
resumes (a finished study skipped, an interrupted one recorded and continued)."""

import csv
import json
import subprocess

import optuna
import pytest
import torch
from conftest import scalars
from test_reproduce_claims import CLAIMS

from lenetlab.reproduce.paper import study_status
from lenetlab.reproduce.studies import Study, read_record, run_study
from lenetlab.run.status import read_status

QUICK = ["profile=quick", 'overrides=["data.val_size=200"]']


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_quick_profile_writes_a_row_per_claim_and_a_second_run_skips_finished_studies(run_main, tmp_path):
    out = tmp_path / "repro"
    args = [*QUICK, "studies=[params,mlp_baseline]", f"hydra.run.dir={out}"]
    first = run_main("lenetlab.reproduce", *args)
    assert first.returncode == 0, first.stderr[-3000:]

    rows = list(csv.DictReader((out / "claims.csv").open()))
    assert len(rows) == len(CLAIMS) >= 20
    assert [(r["report"], r["claim"]) for r in rows] == [(c.report, c.claim) for c in CLAIMS]
    assert {r["report"] for r in rows} == {"000", "001", "002", "003", "004"}
    assert {r["agrees"] for r in rows} <= {"yes", "no", "n/a"}
    by_claim = {r["claim"]: r for r in rows}
    assert by_claim["parameters for 8 filters"]["measured"] == "52,258"
    slip = by_claim["parameters for 8 filters"]  # report 002's slip: the numbers, then the table's likely cause
    assert (slip["agrees"], slip["why"]) == ("no", "-72 against the reported 52,330")
    assert slip["cause"].startswith("an arithmetic slip in report 002")
    assert by_claim["parameters of the tiny CNN"]["agrees"] == "yes"
    assert by_claim["MLP test accuracy after 5 epochs (within 1 pp)"]["measured"].endswith("%")
    not_run = by_claim["best learning rate at batch 100"]
    assert (not_run["agrees"], not_run["why"]) == ("n/a", "study learning_rate not run")
    if not torch.cuda.is_available():
        gpu = [r for r in rows if r["check"].startswith("gpu")]
        assert gpu and all((r["agrees"], r["why"]) == ("n/a", "no GPU") for r in gpu)

    paper = (out / "REPRODUCTION.md").read_text()
    assert "not comparable" in paper
    assert (
        "**Command**: `python -m lenetlab.reproduce profile=quick" in paper and "studies=[params,mlp_baseline]" in paper
    )
    for number in ("000", "001", "002", "003", "004"):
        assert f"## Report {number}" in paper
    assert "![params/params.png](figures/params/params.png)" in paper
    assert "lenetlab measures 52,258 (-72 against the reported 52,330); likely cause: an arithmetic slip" in paper
    assert (out / "figures" / "mlp_baseline" / "learning_curves.png").is_file()

    job_status = next((out / "mlp_baseline").glob("*/status.json"))
    written = job_status.stat().st_mtime_ns
    second = run_main("lenetlab.reproduce", *args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "mlp_baseline: done before" in second.stdout + second.stderr
    assert job_status.stat().st_mtime_ns == written  # the sweep was not run again
    assert json.loads((out / "mlp_baseline" / "study.json").read_text())["status"] == "done"


def test_bad_input_is_refused_before_anything_is_written(run_main, tmp_path):
    out = tmp_path / "repro"
    result = run_main("lenetlab.reproduce", "studies=[learning_rate,nope]", f"hydra.run.dir={out}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: studies=['learning_rate', 'nope'] is not accepted")
    assert not out.exists()
    result = run_main("lenetlab.reproduce", f"gpu_results={tmp_path / 'none'}", f"hydra.run.dir={out}")
    assert result.returncode == 2 and "gpu_results=" in result.stderr and not out.exists()


def test_a_study_started_with_other_settings_is_not_continued(run_main, tmp_path):
    out = tmp_path / "repro"
    (out / "mlp_baseline").mkdir(parents=True)
    record = {"study": "mlp_baseline", "command": ["lenetlab.train", "-m", "experiment=mlp_baseline"], "status": "done"}
    (out / "mlp_baseline" / "study.json").write_text(json.dumps(record))
    result = run_main("lenetlab.reproduce", *QUICK, "studies=[mlp_baseline]", f"hydra.run.dir={out}")
    assert result.returncode == 2 and "choose another hydra.run.dir" in result.stderr
    assert not (out / "claims.csv").exists()


# the quick profile's sweeps: jobs per study (filters_runtime: 8, 16 and 32 filters)
TRAIN_STUDY_JOBS = {
    "learning_rate": 4,
    "learning_rate_b500": 4,
    "filters_runtime": 3,
    "kernel_size": 4,
    "adam_decay": 4,
    "seeds": 3,
    "mlp_baseline": 2,
}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # every study of the lab reports, shortened
def test_quick_profile_runs_every_study(run_main, tmp_path):
    out = tmp_path / "repro"
    # two batches a training epoch, one a validation: every study and claim runs, in half the time
    shorter = 'overrides=["data.val_size=200","trainer.limit_train_batches=2","trainer.limit_val_batches=1"]'
    result = run_main("lenetlab.reproduce", "profile=quick", shorter, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((out / "claims.csv").open()))
    measured = [r for r in rows if r["agrees"] != "n/a"]
    assert len(measured) >= 25  # only the GPU claims and those needing more than 2 epochs or 64 filters are n/a
    assert json.loads((out / "search" / "study.json").read_text())["status"] == "done"
    # each study is one `-m experiment=...` sweep: every job of its grid trained and logged both epochs' curves
    jobs = {study: sorted(p.parent for p in (out / study).glob("*/status.json")) for study in TRAIN_STUDY_JOBS}
    assert {study: len(found) for study, found in jobs.items()} == TRAIN_STUDY_JOBS
    for job in (job for found in jobs.values() for job in found):
        assert read_status(job)["status"] == "finished", job
        curves = scalars(job)
        assert [step for step, _ in curves["val/error"]] == [0, 1], job
        assert [step for step, _ in curves["time/train_epoch_s"]] == [0, 1], job
    # report 003's final run: the seeds' grid on top of adam_decay's settings
    seeds = [read_status(job)["hparams"] for job in jobs["seeds"]]
    assert [(h["seed"], h["optimizer"], h["scheduler"], h["lr"]) for h in seeds] == [
        (seed, "Adam", "ExponentialLR", 0.01) for seed in (1, 2, 3)
    ]


def test_an_interrupted_search_study_records_its_interruption_and_the_paper_prints_it(tmp_path, monkeypatch):
    """The search's command is stood in for: killed after 2 of 3 trials, then run again to the end."""
    study, out = Study("search", "search", ["search.n_trials=3"]), tmp_path / "search"

    def trials(n: int) -> None:  # the search's own study.db, with n completed trials
        storage = f"sqlite:///{out / 'study.db'}"
        search = optuna.create_study(study_name="report004", storage=storage, load_if_exists=True)
        while len(search.trials) < n:
            search.add_trial(optuna.trial.create_trial(value=0.1, params={}, distributions={}))

    def killed(argv, **kwargs):
        trials(2)
        raise KeyboardInterrupt

    def resumed(argv, **kwargs):
        trials(3)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(subprocess, "run", killed)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, out)
    assert read_record(out)["status"] == "started"
    monkeypatch.setattr(subprocess, "run", resumed)
    assert run_study(study, out) == "done"
    record = read_record(out)
    assert (record["status"], record["progress"]) == ("done", 3)
    assert [(stop["progress"], stop["returncode"]) for stop in record["interruptions"]] == [(2, None)]
    status = study_status(record)
    assert status.startswith("done: 3 trials; interrupted once (after ") and status.endswith(
        " min, at 2 trials) and resumed"
    )
    assert run_study(study, out) == "done" and read_record(out) == record  # done: skipped, the record kept
