"""The verdicts of ``python -m lenetlab.reproduce``'s claim checks, on runs with known values: each check agrees,
disagrees naming the part of its rule that failed with its numbers, or says why it could not measure."""

import dataclasses
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lenetlab import CONF_DIR
from lenetlab.report.runs import Run, epoch_fraction
from lenetlab.reproduce.claims import CHECKS, claim_rows, evaluate
from lenetlab.reproduce.results import Measured

CLAIMS = OmegaConf.load(CONF_DIR / "reports" / "lab_reports.yaml").claims


def run(value, key="lr", errors=(0.5, 0.2, 0.1), seconds=(3.0, 2.0, 2.0), test=0.1, status="finished", **hparams):
    """A run with known curves: validation error and seconds per epoch."""
    curves = {"val/error": list(enumerate(errors)), "time/train_epoch_s": list(enumerate(seconds))}
    curves["test/error"] = [(len(errors), test)]
    return Run(Path("."), f"{key}={value}", status, hparams={key: value, **hparams}, curves=curves)


def check(name, measured, missing=None, **args):
    return evaluate({"check": name, "args": args}, measured, missing or {})


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


def test_gpu_speedup_uses_whole_epochs_of_a_partly_timed_cpu_run(tmp_path, fake_mnist, monkeypatch):
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))  # 1,200 training images
    (tmp_path / ".hydra").mkdir()
    config = {"trainer": {"limit_train_batches": 0.2}, "data": {"val_size": 200, "batch_size": 50}}
    OmegaConf.save(OmegaConf.create(config), tmp_path / ".hydra" / "config.yaml")
    assert epoch_fraction(tmp_path) == 4 / 20  # Lightning trains int(20 x 0.2) of the 20 batches
    cpu = dataclasses.replace(run(16, key="filters", seconds=(0.6, 0.5, 0.5)), epoch_fraction=epoch_fraction(tmp_path))
    gpu = run(16, key="filters", seconds=(3.0, 1.0, 1.0))
    m = Measured(runs={"cpu": [cpu], "gpu": [gpu]}, gpu_source="here")
    ratio = check("gpu_speedup", m, cpu="cpu", gpu="gpu", min_ratio=1.0)
    assert ratio.agrees == "yes" and ratio.measured == "GPU speed-up 16: 2.5x (CPU timed on 20% of each epoch)"
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


def _lr(*finals, first=0.5):
    """lr 0.1, 0.01, 0.001 (as many as given) ending at the given errors after ``first`` in epoch 1."""
    return Measured(runs={"lr": [run(v, errors=(first, e)) for v, e in zip((0.1, 0.01, 0.001), finals, strict=False)]})


def _timed(seconds: dict, key="filters", study="cpu"):
    return {study: [run(v, key=key, seconds=(s * 2, s, s)) for v, s in seconds.items()]}


COUNTS = {"a": {"total": 100, "conv": 10, "fc": 90}, "b": {"total": 200, "conv": 15, "fc": 185}}
TRIALS = [
    {"number": "0", "state": "COMPLETE", "best_val_error": "0.03", "params_lr": "0.004", "params_filters": "22"},
    {"number": "1", "state": "PRUNED", "best_val_error": "", "params_lr": "0.01", "params_filters": "16"},
]
LR = {"study": "lr", "key": "lr"}
# (check, measured, args, what the cause must name, what it must not): each part of each rule failed alone
CAUSES = [
    ("best_value", _lr(0.01, 0.03), {**LR, "expected": 0.01, "tolerance_pp": 0.2},
     "0.01 ends 2.00 pp above the best, 0.1 (3.00% against 1.00%; 0.2 pp allowed)", None),
    ("best_per_study", Measured(runs={"a": _lr(0.01, 0.03).runs["lr"], "b": _lr(0.03, 0.01).runs["lr"]}),
     {"key": "lr", "expected": {"a": 0.1, "b": 0.1}, "tolerance_pp": 0.2}, "b: 0.1 ends 2.00 pp above the best", "a:"),
    ("best_values", _lr(0.01, 0.02, 0.03), {**LR, "expected": [0.1, 0.001]},
     "0.001 (3.00%) is not among the 2 lowest, 0.01 (2.00%) is", None),
    ("best_increases", Measured(runs={"s": _lr(0.01, 0.03).runs["lr"], "l": _lr(0.03, 0.01).runs["lr"]}),
     {"key": "lr", "small": "s", "large": "l"}, "the best lr of l, 0.01, is not above s's, 0.1", None),
    ("faster_when_higher", Measured(runs={"lr": [run(v, errors=(e,)) for v, e in ((0.1, 0.2), (0.01, 0.25), (0.001, 0.24))]}),
     {**LR, "epoch": 1}, "0.001 is ahead of 0.01 (24.00% against 25.00%)", "highest"),
    ("faster_when_higher", Measured(runs={"lr": [run(0.1, errors=(0.9,)), run(0.01, errors=(0.9,))]}),
     {**LR, "epoch": 1}, "the highest, 0.1, is not ahead of the lowest, 0.01 (90.00% against 90.00%)", "is ahead of"),
    ("converges_within", Measured(runs={"lr": [run(0.1, errors=(0.5, 0.4, 0.3, 0.01))]}),
     {**LR, "values": [0.1], "epochs": 2, "within_pp": 1.0}, "0.1 only by epoch 4, not 2", None),
    ("still_improving", Measured(runs={"lr": [run(0.1, errors=(0.5, 0.01)), run(0.001, errors=(0.5, 0.4, 0.399))]}),
     {**LR, "value": 0.001, "last_epochs": 1, "min_drop_pp": 0.5, "min_gap_pp": 5.0},
     "it fell only 0.10 pp in the last 1 epochs, under 0.5 pp", "above the best run"),
    ("still_improving", Measured(runs={"lr": [run(0.1, errors=(0.5, 0.05)), run(0.001, errors=(0.5, 0.4, 0.06))]}),
     {**LR, "value": 0.001, "last_epochs": 1, "min_drop_pp": 0.5, "min_gap_pp": 5.0},
     "it ends only 1.00 pp above the best run, under 5 pp", "fell only"),
    ("nearly_constant", _lr(0.01, 0.45), {**LR, "values": [0.1, 0.01], "max_change_pp": 5.0},
     "0.1 changed by 49.00 pp, not under 5 pp", "0.01 changed"),
    ("slower_than", Measured(runs={"lr": [run(0.1, errors=(0.3, 0.1)), run(0.01, errors=(0.4, 0.05))]}),
     {**LR, "slow": 0.01, "fast": 0.1, "epochs": 2}, "0.01 is not behind 0.1 in epoch 2", None),
    ("reaches_accuracy", _lr(0.05, 0.2), {**LR, "values": [0.1, 0.01], "accuracy": 0.9, "by_epoch": 2},
     "0.01 at 80.00%, not above 90.00%", "0.1 at"),
    ("barely_learns", _lr(0.5), {**LR, "value": 0.1, "min_error": 0.8}, "it ends at 50.00%, 30.00 pp under 80.00%", None),
    ("max_accuracy", _lr(0.02), {**LR, "value": 0.1, "reported": 0.92, "tolerance_pp": 1.0},
     "it reaches 98.00%, 5.00 pp above 93.00%", None),
    ("mean_test_accuracy", Measured(runs={"s": [run(1, key="seed", test=0.05)]}),
     {"study": "s", "reported": 0.975, "tolerance_pp": 1.0}, "2.50 pp below the reported 97.50%, more than 1 pp", None),
    ("mean_test_accuracy", Measured(runs={"s": [run(1, key="seed", test=0.001)]}),
     {"study": "s", "reported": 0.975, "tolerance_pp": 1.0}, "2.40 pp above the reported 97.50%", None),
    ("seed_spread", Measured(runs={"s": [run(1, key="seed", test=0.02), run(2, key="seed", test=0.03)]}),
     {"study": "s", "max_range_pp": 0.5}, "the seeds' range is 1.00 pp, over 0.5 pp", None),
    ("better_model", Measured(runs={"m": [run("LeNet", key="model", test=0.05, params=1),
                                          run("MLP", key="model", test=0.04, params=2)]}),
     {"study": "m", "key": "model", "better": "LeNet", "worse": "MLP"}, "LeNet's test error is 1.00 pp above MLP's", None),
    ("error_ratio", Measured(runs={"k": [run(1, key="k", errors=(0.03,)), run(3, key="k", errors=(0.02,))]}),
     {"study": "k", "key": "k", "value": 1, "reference": 3, "min_ratio": 2.0}, "1's error is 1.50x 3's, under 2x", None),
    ("no_better", Measured(runs={"k": [run(k, key="k", errors=(e,)) for k, e in ((3, 0.02), (5, 0.01), (7, 0.019))]}),
     {"study": "k", "key": "k", "values": [5, 7], "reference": 3, "max_gain_pp": 0.3},
     "5 is 1.00 pp below 3, more than 0.3 pp", "7 is"),
    ("param_count", Measured(params=COUNTS), {"model": "a", "reported": 120}, "-20 against the reported 120", None),
    ("param_counts", Measured(params=COUNTS), {"models": ["a", "b"], "reported": [100, 210]},
     "b: -10 against the reported 210", "a:"),
    ("param_split", Measured(params=COUNTS), {"model": "a", "conv": 20, "fc": 90, "tolerance": 0.25},
     "conv 10 is 0.5x the reported 20, outside ±25%", "FC"),
    ("param_split", Measured(params=COUNTS), {"model": "a", "conv": 10, "fc": 30, "tolerance": 0.25},
     "FC 90 is 3.0x the reported 30, outside ±25%", "conv"),
    ("conv_share_grows", Measured(params=COUNTS), {"models": ["a", "b"]}, "b (7.5%) is not above a (10.0%)", None),
    ("runtime_grows", Measured(runs=_timed({8: 2.0, 16: 1.5, 32: 3.0})), {"study": "cpu", "key": "filters",
     "values": [8, 16, 32]}, "16 (1.50 s) is not slower than 8 (2.00 s)", "32 ("),
    ("runtime_scaling", Measured(runs={"cpu": [run(f, key="filters", seconds=(2, 1, 1), params=f) for f in (8, 64)]}),
     {"study": "cpu", "key": "filters", "low": 0.7, "high": 1.3}, "slope 0.000, under 0.7", "over"),
    ("runtime_scaling", Measured(runs={"cpu": [run(f, key="filters", seconds=(2, f, f), params=f**0.5) for f in (8, 64)]}),
     {"study": "cpu", "key": "filters", "low": 0.7, "high": 1.3}, "slope 2.000, over 1.3", "under"),
    ("gpu_speedup", Measured(runs={**_timed({8: 1.0, 16: 4.0}), **_timed({8: 2.0, 16: 1.0}, study="gpu")},
     gpu_source="here"), {"cpu": "cpu", "gpu": "gpu", "min_ratio": 1.0}, "8: 0.50x, not over 1x", "16:"),
    ("gpu_speedup", Measured(runs={**_timed({8: 1.0, 16: 4.0}), **_timed({8: 2.0, 16: 1.0}, study="gpu")},
     gpu_source="here"), {"cpu": "cpu", "gpu": "gpu", "max_ratio": 2.0}, "16: 4.00x, over 2x", "8:"),
    ("gpu_flat_then_steep", Measured(runs=_timed({8: 1.0, 32: 2.0, 256: 5.0}, study="gpu"), gpu_source="here"),
     {"study": "gpu", "flat_until": 32, "flat_max": 1.5, "steep_min": 2.0}, "32 filters take 2.00x of 8, over 1.5x",
     "under"),
    ("gpu_flat_then_steep", Measured(runs=_timed({8: 1.0, 32: 1.0, 256: 1.2}, study="gpu"), gpu_source="here"),
     {"study": "gpu", "flat_until": 32, "flat_max": 1.5, "steep_min": 2.0}, "256 filters take 1.20x of 32, under 2x",
     "over"),
    ("search_best", Measured(trials=TRIALS), {"param": "lr", "reported": 0.0372, "factor": 3.0},
     "lr 0.004 is a factor 9.3 from 0.0372, over 3", None),
    ("search_best_error", Measured(trials=TRIALS), {"reported": 0.0145, "tolerance_pp": 0.5},
     "1.55 pp above the reported 1.45%, more than 0.5 pp", None),
    ("search_test_error", Measured(trials=TRIALS, final={"test_error": 0.008, "epochs": 2, "trial": 0}),
     {"reported": 0.0145, "tolerance_pp": 0.5}, "0.65 pp below the reported 1.45%", None),
    ("log_int_draws", Measured(trials=TRIALS), {"params": ["filters"]}, "filters 22 is no power of 2", "16"),
    ("time_ratio", Measured(runs=_timed({3: 1.0, 5: 1.19, 7: 1.63}, key="kernel_size", study="k")),
     {"study": "k", "key": "kernel_size", "values": [5, 7], "reference": 3, "min_ratio": 1.2}, "5: 1.19x < 1.2x", "7:"),
    ("benchmark_speedup", Measured(runs=_timed({16: 3.0}), benchmark={"16": {"32": {"lenetlab": {"median_s": 1.0}}}},
     gpu_source="here"), {"cpu": "cpu", "filters": 16, "max_ratio": 2.0}, "the GPU is 3.00x faster, over 2x", None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "measured", "args", "named", "not_named"), CAUSES)
def test_a_disagreement_names_the_part_of_the_rule_that_failed_with_its_numbers(name, measured, args, named, not_named):
    result = check(name, measured, **args)
    assert result.agrees == "no"
    assert named in result.why
    if not_named:
        assert not_named not in result.why


def test_every_check_that_can_disagree_has_its_causes_tested():
    assert {case[0] for case in CAUSES} == CHECKS.keys()


def test_a_row_that_disagrees_gives_the_failed_part_and_the_tables_likely_cause():
    cfg = OmegaConf.create({"claims": [c for c in CLAIMS if c.check == "time_ratio"]})
    measured = Measured(runs={"kernel_size": _timed({3: 1.0, 5: 1.19, 7: 1.63}, key="kernel_size", study="x")["x"]})
    (row,) = claim_rows(cfg, measured, {})
    assert (row["agrees"], row["why"]) == ("no", "5: 1.19x < 1.2x")
    assert row["cause"] == CLAIMS[[c.check for c in CLAIMS].index("time_ratio")].cause
