"""Runs and sweeps stopped midway, killed or by Ctrl-C, continue where they stopped with ``resume=true``, to the
result of an uninterrupted run: what a kill leaves on disk is enough (checkpoints and files replaced atomically,
every point of an epoch's curves written before its checkpoint). A diverging run is recorded, not crashed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from conftest import FAST, ROOT, run_in_process, scalars

from lenetlab.models.callbacks import EpochTimer
from lenetlab.output.atomic import atomic_write_text
from lenetlab.output.atomic_checkpoint import AtomicCheckpointIO
from lenetlab.run.status import read_status

# a small learning rate keeps every epoch's losses distinct, so a wrong resume shows in the curves
ARGS = [*FAST, "optimizer.lr=0.01"]  # two epochs: killed in the second
EPOCH_TAGS = ("train/loss", "val/loss", "val/error", "time/train_epoch_s")
CPU_MODULE = SimpleNamespace(device=torch.device("cpu"))


def as_in_a_terminal() -> None:
    """In the child: Ctrl-C's default action, even if the tests were started where SIGINT is ignored (``cmd &``)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(cwd: Path, data_dir: Path, *args: str, **popen) -> subprocess.Popen:
    """Start ``python -m lenetlab.train args`` in the background, as ``run_main`` would run it."""
    env = {**os.environ, "LENETLAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    output = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return subprocess.Popen(
        [sys.executable, "-m", "lenetlab.train", *args],
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=as_in_a_terminal,
        **output,
    )


def wait_for(process: subprocess.Popen, ready, timeout: float = 240) -> None:
    """Return as soon as ``ready()`` is true, failing if the process ends first or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "timed out waiting to interrupt the run"
        time.sleep(0.05)


def kill_when(process: subprocess.Popen, ready) -> None:
    """SIGKILL the process (and its children) as soon as ``ready()`` is true."""
    wait_for(process, ready)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def status(job_dir: Path) -> dict:
    return json.loads((job_dir / "status.json").read_text())


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_killed_run_resumes_with_the_same_command_to_the_same_result(run_main, fake_mnist, tmp_path):
    full = tmp_path / "uninterrupted"
    assert run_main("lenetlab.train", *ARGS, f"hydra.run.dir={full}").returncode == 0

    # the same command, without hydra.run.dir: a timestamped directory under outputs/runs
    process = start_cli(tmp_path, fake_mnist, *ARGS)
    kill_when(process, lambda: any(tmp_path.glob("outputs/runs/*/*/checkpoints/last.ckpt")))
    (run,) = tmp_path.glob("outputs/runs/*/*")
    assert not (run / "status.json").exists()
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    (timer_state,) = [state for key, state in checkpoint["callbacks"].items() if key.startswith("EpochTimer")]

    resumed = run_main("lenetlab.train", *ARGS, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert list(tmp_path.glob("outputs/runs/*/*")) == [run], "resume=true must continue the killed run's directory"
    restored = f"Restoring states from the checkpoint path at {run / 'checkpoints' / 'last.ckpt'}"
    assert restored in (run / "train.log").read_text()  # Lightning's notices go to the log file

    expected, got = status(full)["metrics"], status(run)["metrics"]
    assert got["epochs"] == 2
    assert got["fit_s"] > timer_state["fit_s"] > 0  # the time before the kill is counted
    for key in ("best_val_error", "val_error", "test_error"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    curves, reference = scalars(run), scalars(full)
    for tag in EPOCH_TAGS:
        assert [step for step, _ in curves[tag]] == [0, 1], tag  # none missing, none duplicated
    for tag in ("train/loss", "val/loss"):
        assert [v for _, v in curves[tag]] == pytest.approx([v for _, v in reference[tag]], abs=1e-5), tag

    again = run_main("lenetlab.train", *ARGS, "resume=true")  # a finished run is not trained again
    assert again.returncode == 0 and "already finished, skipped" in again.stdout + again.stderr


class CurvesOnDiskAtEachCheckpoint(L.Callback):
    """Stores in each checkpoint the epochs of each curve that the run's event file holds as it is saved."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        curves = scalars(Path(trainer.logger.log_dir))
        checkpoint["curves_on_disk"] = {tag: [step for step, _ in points] for tag, points in curves.items()}


def test_every_point_of_an_epoch_is_on_disk_before_its_checkpoint(fake_mnist, tmp_path, monkeypatch, capsys):
    # what a SIGKILL right after a checkpoint leaves; the test above can only hit that moment by chance
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    run = tmp_path / "run"
    spy = f"+callbacks.curves_on_disk={{_target_:{__name__}.CurvesOnDiskAtEachCheckpoint}}"
    code, stderr = run_in_process(monkeypatch, capsys, "lenetlab.train", *ARGS, spy, f"hydra.run.dir={run}")
    assert code == 0, stderr[-3000:]
    for name in ("last", "best"):
        on_disk = torch.load(run / "checkpoints" / f"{name}.ckpt", weights_only=False)["curves_on_disk"]
        for tag in EPOCH_TAGS:
            assert on_disk.get(tag) == [0, 1], (name, tag)


def test_fit_time_adds_the_time_recorded_in_the_checkpoint():
    timer = EpochTimer()
    timer.load_state_dict({"epoch_times": [1.0], "fit_s": 100.0})
    timer.on_fit_start(None, CPU_MODULE)
    timer.on_fit_end(SimpleNamespace(loggers=[], current_epoch=2), CPU_MODULE)
    assert 100.0 <= timer.fit_s < 110.0 and timer.summary()["first_epoch_s"] == 1.0


def test_checkpoint_save_is_atomic(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("killed mid-save")

    with pytest.raises(RuntimeError):
        AtomicCheckpointIO().save_checkpoint({"epoch": 2, "state": Unpicklable()}, path)
    assert torch.load(path, weights_only=False) == {"epoch": 1}  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no stray temporary file


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    atomic_write_text(tmp_path / "status.json", "{}")
    (tmp_path / "status.json").chmod(0o600)
    atomic_write_text(tmp_path / "status.json", "{ }")
    assert (tmp_path / "status.json").stat().st_mode & 0o777 == 0o600


def test_atomic_files_get_the_permissions_of_a_plain_open(tmp_path):
    umask = os.umask(0o022)
    try:
        AtomicCheckpointIO().save_checkpoint({"epoch": 1}, tmp_path / "last.ckpt")
        atomic_write_text(tmp_path / "status.json", "{}")
    finally:
        os.umask(umask)
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {"last.ckpt": 0o644, "status.json": 0o644}


def test_diverging_job_is_recorded_and_the_sweep_goes_on(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        "lenetlab.train", "-m", *FAST, "trainer.max_epochs=1", "optimizer.lr=1e12,0.1", f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    diverged = status(next(sweep.glob("*optimizer.lr=1000000000000.0*")))
    assert diverged["status"] == "diverged"
    assert "training loss is nan" in diverged["reason"] and "epoch 0" in diverged["reason"]
    assert diverged["metrics"]["epochs"] == 0 and diverged["metrics"]["fit_s"] > 0  # the steps it took, timed
    assert status(next(sweep.glob("*optimizer.lr=0.1*")))["status"] == "finished"
    assert "2 jobs, 2 finished or diverged, 0 failed" in result.stdout
    assert "diverged" in result.stdout


@pytest.mark.slow
def test_interrupted_sweep_resumes_skipping_finished_jobs(run_main, fake_mnist, tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *FAST, "trainer.max_epochs=2", "optimizer.lr=0.1,0.05,0.02", f"hydra.sweep.dir={sweep}"]
    process = start_cli(tmp_path, fake_mnist, *args)
    kill_when(process, lambda: any(sweep.glob("*/status.json")))
    (first,) = [p.parent for p in sweep.glob("*/status.json")]
    first_files = sorted(first.rglob("*"))

    refused = run_main("lenetlab.train", *args)  # without resume=true the sweep directory is protected
    assert refused.returncode == 2 and "already holds a sweep" in refused.stderr

    result = run_main("lenetlab.train", *args, "resume=true")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert len(jobs) == 3
    assert all(status(job)["status"] == "finished" for job in jobs)
    assert "3 jobs, 3 finished" in result.stdout
    # the job that finished before the interruption was not run again: no new event file or checkpoint
    assert sorted(first.rglob("*")) == first_files
    for job in jobs:
        assert [step for step, _ in scalars(job)["val/error"]] == [0, 1], job.name


def interrupt_when(process: subprocess.Popen, ready) -> int:
    """Send SIGINT (what Ctrl-C sends) to the process as soon as ``ready()`` is true; return its exit status."""
    wait_for(process, ready)
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=120)


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_ctrl_c_records_the_run_as_interrupted_and_resume_finishes_it(run_main, fake_mnist, tmp_path):
    run = tmp_path / "run"
    args = [*ARGS, "trainer.max_epochs=4", f"hydra.run.dir={run}"]
    process = start_cli(tmp_path, fake_mnist, *args)
    assert interrupt_when(process, lambda: (run / "checkpoints" / "last.ckpt").is_file()) == 130
    record = status(run)
    assert record["status"] == "interrupted"
    assert record["last_epoch"] in range(3)  # the epoch of checkpoints/last.ckpt
    assert f"after epoch {record['last_epoch']}" in record["reason"] and "resume=true" in record["reason"]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1

    resumed = run_main("lenetlab.train", *args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert status(run)["status"] == "finished" and status(run)["metrics"]["epochs"] == 4
    for tag in EPOCH_TAGS:  # every epoch exactly once: none lost, none logged twice
        assert [step for step, _ in scalars(run)[tag]] == [0, 1, 2, 3], tag


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_with_its_summary_and_resume_finishes_it(run_main, fake_mnist, tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *ARGS, "trainer.max_epochs=6", "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={sweep}"]
    process = start_cli(tmp_path, fake_mnist, *args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert interrupt_when(process, lambda: any(sweep.glob("*/checkpoints/last.ckpt"))) == 130
    output = process.stdout.read().decode()
    assert [p.name for p in sweep.iterdir() if (p / ".hydra").is_dir()] == ["optimizer.lr=0.01"]  # no next job
    assert status(sweep / "optimizer.lr=0.01")["status"] == "interrupted"
    assert "1 jobs, 0 finished or diverged, 1 failed" in output and "interrupted" in output

    resumed = run_main("lenetlab.train", *args, "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "2 jobs, 2 finished" in resumed.stdout
    for job in ("optimizer.lr=0.01", "optimizer.lr=0.02"):
        assert [step for step, _ in scalars(sweep / job)["val/error"]] == [0, 1, 2, 3, 4, 5], job


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_last_checkpoint_holds_the_last_epoch_even_when_validation_stopped_improving(run_main, tmp_path):
    run = tmp_path / "run"
    # a learning rate too small to change the validation error: the best epoch stays the first
    result = run_main("lenetlab.train", *FAST, "trainer.max_epochs=3", "optimizer.lr=1e-9", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    assert (last["epoch"], best["epoch"]) == (2, 0)
    assert read_status(run)["metrics"]["epochs"] == 3
