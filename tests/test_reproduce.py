"""``python -m lenetlab.reproduce``: what it writes, how it resumes, and the verdicts of the claim checks."""

import csv
import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from lenetlab import CONF_DIR
from lenetlab.report.runs import Run
from lenetlab.reproduce.claims import CHECKS, evaluate
from lenetlab.reproduce.results import Measured, epoch_fraction, whole_epochs

QUICK = ["profile=quick", 'overrides=["data.val_size=200"]']
CLAIMS = OmegaConf.load(CONF_DIR / "reports" / "lab_reports.yaml").claims


def run(value, key="lr", errors=(0.5, 0.2, 0.1), seconds=(3.0, 2.0, 2.0), test=0.1, status="finished", **hparams):
    """A run with known curves: validation error and seconds per epoch."""
    curves = {"val/error": list(enumerate(errors)), "time/train_epoch_s": list(enumerate(seconds))}
    curves["test/error"] = [(len(errors), test)]
    return Run(Path("."), f"{key}={value}", status, hparams={key: value, **hparams}, curves=curves)


def check(name, measured, missing=None, **args):
    return evaluate({"check": name, "args": args}, measured, missing or {})


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
    assert by_claim["parameters for 8 filters"]["agrees"] == "no"  # report 002's slip
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


@pytest.mark.slow
@pytest.mark.timeout(1200)  # every study of the lab reports, shortened
def test_quick_profile_runs_every_study(run_main, tmp_path):
    out = tmp_path / "repro"
    result = run_main("lenetlab.reproduce", *QUICK, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((out / "claims.csv").open()))
    measured = [r for r in rows if r["agrees"] != "n/a"]
    assert len(measured) >= 25  # only the GPU claims and those needing more than 2 epochs or 64 filters are n/a
    assert json.loads((out / "search" / "study.json").read_text())["status"] == "done"


# --- the checks, on runs with known values ------------------------------------------------------------------


def test_every_claim_names_an_existing_check():
    assert {c.check for c in CLAIMS} <= CHECKS.keys()


def test_best_value_agrees_within_its_tolerance():
    runs = [run(0.1, errors=(0.05, 0.010)), run(0.01, errors=(0.09, 0.011)), run(0.001, errors=(0.5, 0.06))]
    m = Measured(runs={"lr": runs})
    close = check("best_value", m, study="lr", key="lr", expected=0.01, tolerance_pp=0.2)
    assert (close.agrees, close.measured) == ("yes", "0.1 (0.1: 1.00%, 0.01: 1.10%, 0.001: 6.00%)")
    assert check("best_value", m, study="lr", key="lr", expected=0.01, tolerance_pp=0.05).agrees == "no"
    missing = check("best_value", m, study="lr", key="lr", expected=0.0001, tolerance_pp=0.2)
    assert missing.agrees == "n/a" and "0.0001" in missing.why


def test_unfinished_runs_do_not_count_and_missing_studies_are_not_measured():
    runs = [run(0.1, errors=(0.01,)), run(0.01, errors=(0.001,), status="unfinished")]
    m = Measured(runs={"lr": runs})
    assert check("best_value", m, study="lr", key="lr", expected=0.1, tolerance_pp=0).measured.startswith("0.1 (0.1:")
    gone = check("best_value", m, {"lr": "no GPU"}, study="lr", key="lr", expected=0.1, tolerance_pp=0)
    assert (gone.measured, gone.agrees, gone.why) == ("not measured", "n/a", "no GPU")


def test_learning_speed_checks():
    runs = [run(0.1, errors=(0.05, 0.02)), run(0.01, errors=(0.2, 0.05)), run(0.0001, errors=(0.91, 0.90))]
    m = Measured(runs={"lr": runs})
    assert check("faster_when_higher", m, study="lr", key="lr", epoch=1).agrees == "yes"
    at_chance = [*runs, run(0.001, errors=(0.91, 0.90))]  # two rates still at chance after an epoch: a tie
    assert check("faster_when_higher", Measured(runs={"lr": at_chance}), study="lr", key="lr", epoch=1).agrees == "yes"
    reversed_order = [run(0.1, errors=(0.3, 0.02)), run(0.01, errors=(0.2, 0.05))]
    assert (
        check("faster_when_higher", Measured(runs={"lr": reversed_order}), study="lr", key="lr", epoch=1).agrees == "no"
    )
    assert check("barely_learns", m, study="lr", key="lr", value=0.0001, min_error=0.8).agrees == "yes"
    assert check("barely_learns", m, study="lr", key="lr", value=0.01, min_error=0.8).agrees == "no"
    assert (
        check("reaches_accuracy", m, study="lr", key="lr", values=[0.1, 0.01], accuracy=0.9, by_epoch=2).agrees == "yes"
    )
    slow = check("slower_than", m, study="lr", key="lr", slow=0.01, fast=0.1, epochs=2)
    assert slow.agrees == "yes" and "20.00% vs 5.00%" in slow.measured
    assert (
        check("slower_than", m, study="lr", key="lr", slow=0.01, fast=0.1, epochs=3).why == "2 epochs logged, 3 needed"
    )


def test_seed_spread_and_mean_test_accuracy():
    runs = [run(s, key="seed", test=t) for s, t in ((1, 0.024), (2, 0.027), (3, 0.030))]
    m = Measured(runs={"seeds": runs})
    mean = check("mean_test_accuracy", m, study="seeds", reported=0.975, tolerance_pp=1.0)
    assert mean.agrees == "yes" and mean.measured.startswith("97.30% (mean of 3")
    assert check("seed_spread", m, study="seeds", max_range_pp=0.5).agrees == "no"  # 0.6 pp apart
    assert check("seed_spread", m, study="seeds", max_range_pp=0.7).agrees == "yes"


def test_gpu_speedup_uses_whole_epochs_of_a_partly_timed_cpu_run(tmp_path):
    (tmp_path / ".hydra").mkdir()
    config = {"trainer": {"limit_train_batches": 0.05}, "data": {"val_size": 5000, "batch_size": 100}}
    OmegaConf.save(OmegaConf.create(config), tmp_path / ".hydra" / "config.yaml")
    cpu = run(16, key="filters", seconds=(0.6, 0.5, 0.5))
    cpu.path = tmp_path
    fraction = epoch_fraction(cpu, 60000)
    assert fraction == 27 / 550  # Lightning times int(550 x 0.05) of the 550 batches
    gpu = run(16, key="filters", seconds=(3.0, 1.0, 1.0))
    m = Measured(runs={"cpu": [whole_epochs(cpu, fraction)], "gpu": [gpu]}, gpu_source="here")
    ratio = check("gpu_speedup", m, cpu="cpu", gpu="gpu", min_ratio=1.0)
    assert ratio.agrees == "yes" and ratio.measured.startswith("GPU speed-up 16: 10.2x")
    assert check("gpu_speedup", m, cpu="cpu", gpu="gpu", max_ratio=2.0).agrees == "no"
    assert check("gpu_speedup", Measured(runs={"cpu": [cpu]}), cpu="cpu", gpu="gpu").why == "no GPU"


def test_parameter_and_search_checks():
    m = Measured(params={"lenet_16": {"total": 104250, "conv": 2480, "fc": 101770}})
    assert check("param_count", m, model="lenet_16", reported=104250).agrees == "yes"
    split = check("param_split", m, model="lenet_16", conv=5000, fc=3500, tolerance=0.25)
    assert (split.measured, split.agrees) == ("2,480 conv / 101,770 FC", "no")
    trials = [
        {"number": "0", "state": "COMPLETE", "best_val_error": "0.02", "params_lr": "0.04", "params_filters": "22"},
        {"number": "1", "state": "COMPLETE", "best_val_error": "0.05", "params_lr": "0.001", "params_filters": "16"},
    ]
    m = Measured(trials=trials, final={"test_error": 0.0151, "epochs": 10, "trial": 0})
    assert check("search_best", m, param="lr", reported=0.0372, factor=3).agrees == "yes"
    assert check("search_test_error", m, reported=0.0145, tolerance_pp=0.5).measured.startswith("1.51%")
    assert check("log_int_draws", m, params=["filters"]).agrees == "no"  # 22 is no power of 2
    assert check("search_best", Measured(), param="lr", reported=0.0372, factor=3).why == "the search was not run"
