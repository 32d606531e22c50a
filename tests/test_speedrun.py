"""``experiment=speedrun``: the fastest honest 99% on the CPU (docs/speedrun.md)."""

import json

import pytest
from conftest import FAST
from test_experiments import compose_experiment

from lenetlab.run.precision import cpu_has_native_bf16

# a shortened epoch of the speedrun on the synthetic data: everything of FAST but its batch size and epochs
SHORT = [o for o in FAST if not o.startswith(("data.batch_size", "trainer.max_epochs"))]


def test_speedrun_fixes_every_setting_in_its_config():
    cfg = compose_experiment("experiment=speedrun")
    assert cfg.model._target_ == "lenetlab.models.StridedNet"
    assert (cfg.model.stem_filters, cfg.model.stem_kernel, cfg.model.stem_stride) == (16, 5, 2)
    assert (list(cfg.model.filters), list(cfg.model.hidden)) == ([32], [128])
    assert cfg.optimizer._target_ == "torch.optim.SGD" and cfg.optimizer.nesterov and cfg.optimizer.momentum == 0.9
    assert (cfg.optimizer.lr, cfg.optimizer.weight_decay, cfg.scheduler.pct_start) == (0.3, 5e-4, 0.35)
    assert cfg.scheduler._target_ == "torch.optim.lr_scheduler.OneCycleLR" and cfg.scheduler.total_steps is None
    assert (cfg.data.batch_size, cfg.label_smoothing, cfg.trainer.precision) == (128, 0.1, "auto")
    # the usual validation split, the whole training set, one epoch: no setting left to the test set
    assert (cfg.data.val_size, cfg.data.full_train, cfg.data.augment) == (5000, False, 0.0)
    assert cfg.trainer.max_epochs == 1 and cfg.trainer.limit_train_batches is None
    assert cfg.trainer.gradient_clip_val == 1.0
    assert cfg.channels_last == "auto"


def test_speedrun_takes_the_labs_lenet_with_its_recipe():
    cfg = compose_experiment("experiment=speedrun", "model=lenet")
    assert cfg.model._target_ == "lenetlab.models.LeNet" and list(cfg.model.filters) == [16, 16]
    assert (cfg.data.batch_size, cfg.trainer.precision, cfg.optimizer.nesterov) == (128, "auto", True)


def test_speedrun_runs_a_shortened_epoch_on_synthetic_data(run_main, tmp_path):
    out = tmp_path / "run"
    result = run_main(
        "lenetlab.train", "experiment=speedrun", *SHORT, "trainer.limit_train_batches=6", f"hydra.run.dir={out}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "finished"
    # trainer.precision=auto: bf16-mixed on this CPU if it does bfloat16 natively, else fp32
    native = "bf16-mixed" if cpu_has_native_bf16() else "32"
    assert status["hparams"]["precision"] == native and status["hparams"]["params"] == 207_178
    metrics = status["metrics"]
    assert metrics["epochs"] == 1 and metrics["fit_s"] > 0
    assert metrics["best_val_error"] is not None and metrics["test_acc"] is not None  # validated once, tested once


@pytest.mark.slow
@pytest.mark.timeout(900)  # an epoch of 55,000 images, slower on a CPU without bfloat16
def test_one_seed_of_the_speedrun_reaches_98_8_percent_on_real_mnist(run_main, real_mnist, tmp_path):
    out = tmp_path / "run"
    args = ["experiment=speedrun", "trainer.accelerator=cpu", "callbacks.progress_bar=null", "seed=0"]
    result = run_main("lenetlab.train", *args, f"hydra.run.dir={out}", data_dir=real_mnist)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "status.json").read_text())["metrics"]
    assert metrics["epochs"] == 1
    assert metrics["test_acc"] >= 0.988


def test_the_plain_pytorch_speedrun_has_the_configs_recipe(monkeypatch):
    from conftest import ROOT

    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from speedrun_plain import NETWORK, RECIPE

    cfg = compose_experiment("experiment=speedrun")
    optimizer, scheduler = cfg.optimizer, cfg.scheduler
    assert {
        "lr": optimizer.lr,
        "momentum": optimizer.momentum,
        "weight_decay": optimizer.weight_decay,
        "batch_size": cfg.data.batch_size,
        "pct_start": scheduler.pct_start,
        "div_factor": scheduler.div_factor,
        "final_div_factor": scheduler.final_div_factor,
        "label_smoothing": cfg.label_smoothing,
        "gradient_clip_val": cfg.trainer.gradient_clip_val,
    } == RECIPE
    assert optimizer.nesterov and not scheduler.cycle_momentum and scheduler.anneal_strategy == "cos"
    assert {key: cfg.model[key] for key in NETWORK} == NETWORK


def test_the_plain_pytorch_speedrun_trains_validates_and_tests_once(fake_mnist):
    import subprocess
    import sys

    from conftest import ROOT

    # 4 epochs of the 1,000 synthetic training images: a one cycle of 8 steps warms up too fast for its peak
    script, options = ROOT / "scripts" / "speedrun_plain.py", ["--val-size=200", "--epochs=4", f"--data={fake_mnist}"]
    command = [sys.executable, str(script), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert (result["net"], result["epochs"], result["seed"]) == ("StridedNet", 4, 0)
    assert result["test_acc"] > 0.5 and result["val_acc"] > 0.5  # the synthetic digits are easy
    assert 0 < result["startup_s"] < result["wall_s"] and 0 < result["fit_s"] < result["wall_s"]


@pytest.mark.parametrize(
    ("precision", "accelerator", "native", "resolved"),
    [
        ("auto", "cpu", True, "bf16-mixed"),
        ("auto", "cpu", False, "32"),  # emulated bfloat16 is slower than fp32
        ("auto", "auto", False, "32"),  # no GPU visible: the CPU's answer
        ("bf16-mixed", "cpu", False, "bf16-mixed"),  # the user's own choice stays
        ("32", "cpu", True, "32"),
        (32, "cpu", True, 32),
    ],
)
def test_auto_precision_is_bf16_where_the_cpu_has_it_and_fp32_elsewhere(
    monkeypatch, precision, accelerator, native, resolved
):
    import torch

    import lenetlab.run.precision
    from lenetlab.run.precision import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(lenetlab.run.precision, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision(precision, accelerator) == resolved


def test_the_speedrun_falls_back_to_fp32_on_a_cpu_without_bfloat16(run_main, tmp_path, monkeypatch, caplog):
    import lenetlab.run.precision

    monkeypatch.setattr(lenetlab.run.precision, "cpu_has_native_bf16", lambda: False)
    out = tmp_path / "run"
    args = ["experiment=speedrun", *SHORT, "trainer.limit_train_batches=2", f"hydra.run.dir={out}"]
    result = run_main("lenetlab.train", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "finished" and status["hparams"]["precision"] == "32"  # what the run trained in
    assert "native bfloat16" not in result.stderr + caplog.text  # nothing to warn about: it is not bf16


def test_one_cycle_over_too_few_steps_is_refused_in_one_line(run_main, tmp_path):
    """OneCycleLR divides by zero where pct_start x steps is exactly 1 (4 batches x 0.25): an empty warm-up."""
    out = tmp_path / "run"
    args = ["experiment=speedrun", *SHORT, "scheduler.pct_start=0.25", "trainer.limit_train_batches=4"]
    result = run_main("lenetlab.train", *args, f"hydra.run.dir={out}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: scheduler.pct_start=0.25 is not accepted over this run's 4 optimizer steps: a phase of the schedule "
        "would be empty; change it, or the run's epochs or batches"
    )
    assert "Traceback" not in result.stderr and "ZeroDivisionError" not in result.stderr
    assert json.loads((out / "status.json").read_text())["status"] == "failed"
