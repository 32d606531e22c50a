"""A plain run's terminal: its progress, one result line, no warnings or tips the user cannot act on."""

import logging
import os
import re
import shutil

import pytest
from conftest import FAST

from lenetlab.config.quiet import quiet
from lenetlab.output import percent
from lenetlab.run.status import STATUS_FILE, read_status, summarize, write_status

SILENCED = [
    "Tip:",  # Lightning's litlogger advertisement
    "litlogger",
    "LeafSpec",  # torch's _pytree deprecation, raised by Lightning's code
    "was configured so",  # limit_*_batches notices
    "GPU available",
    "TPU available",
    "LOCAL_RANK",
    "smaller than the logging interval",
    "set_float32_matmul_precision",
    "`srun` command is available",
    "could not find the monitored key",
    "Bypassing sacct error",
    "Warning",
]


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_a_run_prints_one_result_line_in_percent_and_nothing_to_ignore(run_cli, tmp_path):
    # a machine with SLURM installed: an `srun` on the PATH makes Lightning warn
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    run = tmp_path / "run"
    result = run_cli(
        "lenetlab.train",
        *FAST,
        "++trainer.limit_train_batches=5",  # fewer batches than the logging interval
        f"hydra.run.dir={run}",
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert [message for message in SILENCED if message in output] == []
    metrics = read_status(run)["metrics"]
    assert result.stderr == ""
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if " - finished: " in line], (
        "one result line and nothing else (the progress bar is off here)"
    )
    (line,) = result.stdout.splitlines()
    assert line.endswith(
        f"finished: best val error {percent(metrics['best_val_error'])}, test error {percent(metrics['test_error'])}, "
        f"2 epochs in {metrics['fit_s']:.1f} s -> {run}"
    )
    assert re.search(r"best val error \d+\.\d\d%, test error \d+\.\d\d%", line)
    log = (run / "train.log").read_text()  # Lightning's notices are kept in the run's log file
    assert "GPU available: False, used: False" in log and "threads" in log
    assert "Tip:" not in log


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_a_run_continued_from_its_last_checkpoint_does_not_warn_about_its_own_checkpoints(run_main, run_cli, tmp_path):
    run = tmp_path / "run"  # its first epoch in this process; what the second prints, from a process of its own
    assert run_main("lenetlab.train", *FAST, "trainer.max_epochs=1", f"hydra.run.dir={run}").returncode == 0
    result = run_cli("lenetlab.train", *FAST, "trainer.max_epochs=2", f"ckpt_path={run}/checkpoints/last.ckpt")
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_status(run)["metrics"]["epochs"] == 2
    assert "exists and is not empty" not in result.stdout + result.stderr
    assert result.stderr == ""


def test_percent_has_two_decimals():
    assert [percent(x) for x in (0.019, 0.018999993801116943, 0.0, 1.0, 0.12345)] == [
        "1.90%",
        "1.90%",
        "0.00%",
        "100.00%",
        "12.35%",
    ]


def test_the_sweep_summary_shows_errors_in_percent(tmp_path):
    for name, best in (("optimizer.lr=0.1", 0.018999993801116943), ("optimizer.lr=0.01", 0.0494)):
        (tmp_path / name / ".hydra").mkdir(parents=True)
        write_status(tmp_path / name, "finished", metrics={"best_val_error": best})
    (tmp_path / "optimizer.lr=0.001" / ".hydra").mkdir(parents=True)
    text, bad = summarize(tmp_path)
    assert bad == 1
    lines = text.splitlines()[1:]
    assert [line.split() for line in lines] == [
        ["unfinished", "optimizer.lr=0.001"],
        ["finished", "optimizer.lr=0.01", "best", "val", "error", "4.94%"],
        ["finished", "optimizer.lr=0.1", "best", "val", "error", "1.90%"],
    ]
    assert (tmp_path / "optimizer.lr=0.1" / STATUS_FILE).read_text().count(
        "0.018999993801116943"
    ) == 1  # full precision


def test_the_sweep_summary_lists_jobs_in_the_order_of_their_values_in_aligned_columns(tmp_path):
    names = ["model.filters=128,trainer.accelerator=cpu", "model.filters=8,trainer.accelerator=cpu", "seed=2"]
    for name in names:
        (tmp_path / name / ".hydra").mkdir(parents=True)
        write_status(tmp_path / name, "finished", metrics={"best_val_error": 0.5})
    lines = summarize(tmp_path)[0].splitlines()[1:]
    assert [line.split()[1] for line in lines] == [names[1], names[0], names[2]]  # 8 before 128
    assert len({line.index("best val error") for line in lines}) == 1  # a name over 40 characters widens the column


def test_submitit_sacct_warnings_are_dropped_and_nothing_else(caplog, monkeypatch):
    """On a machine without SLURM accounting, submitit's status poll fails and warns; that one warning is dropped."""
    if shutil.which("sacct"):
        pytest.skip("sacct works here: submitit does not warn")
    from submitit.slurm.slurm import SlurmInfoWatcher

    submitit_log = logging.getLogger("submitit")
    monkeypatch.setattr(submitit_log, "filters", [])  # as before quiet() (other tests may have run it)
    watcher = SlurmInfoWatcher(delay_s=0)
    watcher.register_job("12345")
    with caplog.at_level(logging.INFO, logger="submitit"):
        watcher.update()
        assert [r.getMessage() for r in caplog.records if "Bypassing sacct error" in r.getMessage()]
        caplog.clear()
        quiet()
        watcher.update()
        submitit_log.warning("another submitit warning")
    assert [r.getMessage() for r in caplog.records] == ["another submitit warning"]
