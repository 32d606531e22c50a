"""Which directory ``resume=true`` continues: the newest earlier run or sweep of the same command, a run in place
only from its last checkpoint, none where the directory holds no run (refused in one line); what the terminal
says about it, and a directory's path kept intact through Hydra's override parser."""

import os
import time
from pathlib import Path

import pytest
from conftest import FAST
from omegaconf import OmegaConf

from lenetlab import CONF_DIR
from lenetlab.config.overrides import hydra_quoted
from lenetlab.run.resume import choose_output_dir


def test_resume_picks_the_newest_earlier_run_of_the_same_command(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    monkeypatch.chdir(tmp_path)
    runs = {  # directory: (its overrides, its age in seconds)
        "2026-01-01/09-00-00": (["seed=1"], 300),
        "2026-01-01/10-00-00": (["seed=1", "resume=true"], 200),  # resumed once: still the same command
        "2026-01-01/11-00-00": (["seed=1", "experiment=learning_rate"], 100),  # another command
        "2026-01-02/09-00-00": (["seed=2"], 0),
    }
    for name, (overrides, age) in runs.items():
        record = tmp_path / "outputs" / "runs" / name / ".hydra" / "overrides.yaml"
        record.parent.mkdir(parents=True)
        OmegaConf.save(OmegaConf.create(overrides), record)
        os.utime(record, (time.time() - age, time.time() - age))
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        config = compose("train", overrides=["seed=1", "resume=true"], return_hydra_config=True)
        assert choose_output_dir(config, multirun=False) == Path("outputs/runs/2026-01-01/10-00-00")
        fresh = compose("train", overrides=["seed=3", "resume=true"], return_hydra_config=True)
        choose_output_dir(fresh, multirun=False)  # no earlier run of this command: a new one
        assert "outputs/runs/${now:" in OmegaConf.to_container(fresh.hydra.run)["dir"]


def test_resume_on_a_directory_that_holds_no_run_is_refused_in_one_line(run_main, tmp_path):
    mistyped = tmp_path / "outputs" / "never_ran"
    result = run_main("lenetlab.train", *FAST, f"hydra.run.dir={mistyped}", "resume=true")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: resume=true: hydra.run.dir='{mistyped}' holds no run to continue; "
        "check the directory, or leave out resume=true to start a new run there\n"
    )
    assert not (tmp_path / "outputs").exists()  # nothing written


def test_resume_says_on_the_terminal_whether_it_starts_a_new_run_or_which_one_it_continues(run_main, tmp_path):
    args = [*FAST, "trainer.max_epochs=1", "++trainer.limit_train_batches=2", "resume=true"]
    first = run_main("lenetlab.train", *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "resume=true: no earlier run of this command, starting a new one" in first.stdout
    (run,) = (tmp_path / "outputs" / "runs").glob("*/*")
    (run / "status.json").unlink()  # as if killed after its checkpoint
    again = run_main("lenetlab.train", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resume: continuing after epoch 0 of {run / 'checkpoints' / 'last.ckpt'}, in {run}" in again.stdout
    assert "resume: continuing after epoch 0 of" in (run / "train.log").read_text()


def test_only_a_runs_last_checkpoint_continues_that_run_in_place(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "outputs" / "runs" / "2026-01-01" / "09-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    for name in ("last.ckpt", "best.ckpt"):
        (run / "checkpoints" / name).write_bytes(b"")
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        last = compose("train", overrides=[f"ckpt_path={run}/checkpoints/last.ckpt"], return_hydra_config=True)
        assert choose_output_dir(last, multirun=False) == run
        best = compose("train", overrides=[f"ckpt_path={run}/checkpoints/best.ckpt"], return_hydra_config=True)
        new_run = choose_output_dir(best, multirun=False)  # a new run starts from it
        assert new_run.parts[:2] == ("outputs", "runs") and not new_run.exists()


@pytest.mark.parametrize("path", ["out/a b", "out/x=1,2", "out/it's", "out/back\\", "out/${now:x}", "out/b\\'x"])
def test_a_resumed_directory_survives_hydras_override_parser(path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    value = OverridesParser.create().parse_override(f"hydra.sweep.dir={hydra_quoted(path)}").value()
    assert OmegaConf.create({"dir": value}).dir == path


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_resume_without_a_sweep_dir_continues_the_newest_sweep_of_the_same_command(run_main, tmp_path):
    args = ["-m", *FAST, "trainer.max_epochs=1", "optimizer.lr=0.1,0.05"]
    assert run_main("lenetlab.train", *args).returncode == 0
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    finished = {job: (job / "status.json").read_text() for job in sweep.iterdir() if (job / ".hydra").is_dir()}
    time.sleep(1.1)  # a new sweep would get a new time-stamped directory

    result = run_main("lenetlab.train", *args, "resume=true")
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(tmp_path.glob("outputs/multirun/*/*")) == [sweep]
    assert result.stdout.count("already finished, skipped") == 2
    assert {job: (job / "status.json").read_text() for job in finished} == finished
