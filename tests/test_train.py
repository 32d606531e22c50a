"""End to end: what ``python -m lenetlab.train`` writes."""

import json

import pytest
import torch
from conftest import FAST, scalars

EPOCH_TAGS = ("train/loss", "val/loss", "val/acc", "val/error", "time/train_epoch_s")


def test_run_logs_one_point_per_epoch_and_writes_status(run_main, tmp_path):
    out = tmp_path / "run"
    result = run_main("lenetlab.train", *FAST, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]

    curves = scalars(out)
    for tag in EPOCH_TAGS:
        assert [step for step, _ in curves[tag]] == [0, 1], tag
    assert {"test/acc", "test/error", "time/fit_s"} <= curves.keys()
    assert "hp_metric" not in curves and "epoch" not in curves
    for (_, acc), (_, error) in zip(curves["val/acc"], curves["val/error"], strict=True):
        assert abs(acc + error - 1) < 1e-6

    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "finished"
    assert status["metrics"]["params"] == 104_250
    assert status["metrics"]["best_val_error"] == min(v for _, v in curves["val/error"])
    assert abs(status["metrics"]["test_error"] - curves["test/error"][-1][1]) < 1e-6
    assert status["metrics"]["best_val_error"] < 0.5  # the synthetic digits are learnable
    assert {p.name for p in (out / "checkpoints").iterdir()} == {"best.ckpt", "last.ckpt"}


def test_hparams_are_logged_without_placeholder_points(run_main, tmp_path):
    from lenetlab.report.runs import read_events

    out = tmp_path / "run"
    assert run_main("lenetlab.train", *FAST, "trainer.max_epochs=1", f"hydra.run.dir={out}").returncode == 0
    assert len(list(out.glob("events.out.tfevents.*"))) == 1 and not (out / "hparams.yaml").exists()
    curves, values = read_events(out)  # TensorBoard's HParams entry of the run
    expected = {"lr": 0.1, "filters": 16, "params": 104_250, "optimizer": "SGD", "accelerator": "cpu"}
    assert {key: values[key] for key in expected} == expected and values["status"] == "finished"
    assert [step for step, _ in curves["val/error"]] == [0] and "hp_metric" not in curves


def test_multirun_writes_one_directory_per_override(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        "lenetlab.train",
        "-m",
        *FAST,
        "trainer.max_epochs=1",
        "optimizer.lr=0.1,0.01",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["optimizer.lr=0.01", "optimizer.lr=0.1"]  # only what the sweep varies
    for job in jobs:
        assert "val/error" in scalars(sweep / job)
    assert "2 jobs, 2 finished" in result.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_run_trains_on_the_device_and_records_its_memory(run_main, tmp_path):
    out = tmp_path / "run"
    result = run_main("lenetlab.train", *FAST, "trainer.accelerator=gpu", f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    assert scalars(out)["memory/gpu_peak_mb"][-1][1] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_without_cuda_stops_with_one_clear_line(run_main, tmp_path):
    result = run_main("lenetlab.train", *FAST, "trainer.accelerator=gpu", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: trainer.accelerator=gpu: no CUDA device visible; use cpu or auto"
    )


def test_start_up_of_a_later_run_in_the_same_process_counts_from_its_own_start(monkeypatch):
    from types import SimpleNamespace

    from lenetlab.models import callbacks

    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(callbacks, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    monkeypatch.setattr(callbacks, "process_age_s", lambda: 42.0)  # this process started 42 s before its first step
    monkeypatch.setattr(callbacks.EpochTimer, "_process_has_trained", False)
    first, later = callbacks.EpochTimer(), callbacks.EpochTimer()  # both created at 100 s
    clock.now = 103.5
    for timer in (first, later):
        timer.on_train_epoch_start(None, SimpleNamespace(device=torch.device("cpu")))
    assert first.startup_s == 42.0  # the process's first run: from the process start, imports included
    assert later.startup_s == 3.5  # a sweep's second job: from its own timer's creation


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_a_short_recipe_run_trains_with_every_piece_and_logs_the_usual_curves(run_main, tmp_path):
    out = tmp_path / "run"
    result = run_main("lenetlab.train", "experiment=recipe", *FAST, f"hydra.run.dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    curves = scalars(out)
    for tag in EPOCH_TAGS:
        assert [step for step, _ in curves[tag]] == [0, 1], tag
    assert {"test/acc", "test/error", "time/fit_s"} <= curves.keys()
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "finished"
    assert status["metrics"]["params"] == 104_250  # dropout adds none
    assert status["metrics"]["best_val_error"] < 0.5  # the synthetic digits are learnable under distortions
    hparams = status["hparams"]
    assert (hparams["momentum"], hparams["weight_decay"], hparams["scheduler"]) == (0.9, 5e-4, "OneCycleLR")
    assert (hparams["augment"], hparams["label_smoothing"], hparams["dropout"]) == (1.0, 0.05, 0.25)
