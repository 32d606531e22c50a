"""Every lab-report study is one `-m experiment=NAME` command.

Each one runs, shortened, in the quick reproduction (``tests/test_reproduce_command.py``); here, what they compose to.
"""

import json

import pytest
import torch
from conftest import FAST
from hydra import compose, initialize_config_dir
from hydra.types import RunMode

from lenetlab import CONF_DIR
from lenetlab.config.sweeps import expand_sweep

EXPERIMENTS = {  # name: number of jobs its grid expands to
    "learning_rate": 4,
    "filters_runtime": 12,
    "kernel_size": 4,
    "adam_decay": 4,
    "seeds": 3,
    "mlp_baseline": 2,
    "recipe": 1,
    "speedrun": 1,
}


def compose_experiment(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def grid_size(cfg) -> int:
    params = cfg.hydra.sweeper.params or {}
    return len(expand_sweep([f"{key}={value}" for key, value in params.items()])[1])


def test_every_experiment_config_is_tested():
    assert {p.stem for p in (CONF_DIR / "experiment").glob("*.yaml")} == EXPERIMENTS.keys()


@pytest.mark.parametrize(("name", "jobs"), EXPERIMENTS.items())
def test_experiment_composes_and_expands_to_its_grid(name, jobs):
    assert grid_size(compose_experiment(f"experiment={name}")) == jobs


def test_experiments_set_the_reports_settings():
    adam = compose_experiment("experiment=adam_decay")
    assert adam.model.filters == [16, 4] and list(adam.model.hidden) == []
    assert adam.optimizer._target_ == "torch.optim.Adam"
    assert adam.scheduler.gamma == 0.95
    assert (adam.data.batch_size, adam.trainer.max_epochs) == (2048, 10)
    lr = compose_experiment("experiment=learning_rate")
    assert (lr.data.batch_size, lr.trainer.max_epochs, list(lr.model.filters)) == (100, 20, [16, 16])
    # seeds adds its grid on top of another experiment's
    assert grid_size(compose_experiment("experiment=[adam_decay,seeds]")) == 12


@pytest.mark.parametrize(("name", "jobs"), EXPERIMENTS.items())
def test_an_experiment_with_a_grid_is_a_sweep_and_a_search_of_it_is_one_run(name, jobs):
    assert (compose_experiment(f"experiment={name}").hydra.mode == RunMode.MULTIRUN) == (jobs > 1)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        search = compose("search", overrides=[f"experiment={name}"], return_hydra_config=True)
    assert search.hydra.mode == RunMode.RUN  # the search is not swept over the experiment's grid


def test_an_experiment_with_a_grid_runs_it_without_dash_m(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    quick = [
        *FAST,
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=2",
        "++trainer.limit_val_batches=1",
        "test=false",
    ]
    result = run_main("lenetlab.train", "experiment=learning_rate", *quick, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = {
        job.name: json.loads((job / "status.json").read_text())["status"] for job in sweep.iterdir() if job.is_dir()
    }
    assert jobs == {f"optimizer.lr={lr}": "finished" for lr in ("0.1", "0.01", "0.001", "0.0001")}
    assert "4 jobs, 4 finished or diverged, 0 failed" in result.stdout


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_gpu_jobs_fail_alone_on_a_machine_without_gpu(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    fast = [arg for arg in FAST if not arg.startswith("trainer.accelerator=")]
    args = ["-m", "experiment=filters_runtime", *fast, "trainer.max_epochs=1", "model.filters=8"]
    result = run_main("lenetlab.train", *args, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 1
    statuses = {job.name: json.loads((job / "status.json").read_text()) for job in sweep.iterdir() if job.is_dir()}
    by_accelerator = {("gpu" if "accelerator=gpu" in name else "cpu"): status for name, status in statuses.items()}
    assert by_accelerator["cpu"]["status"] == "finished"
    assert by_accelerator["gpu"]["status"] == "failed"
    assert "no CUDA device visible" in by_accelerator["gpu"]["reason"]
    assert "2 jobs, 1 finished or diverged, 1 failed" in result.stderr


@pytest.mark.slow
def test_bf16_mixed_precision_passes_through(run_main, tmp_path):
    out = tmp_path / "run"
    result = run_main(
        "lenetlab.train", *FAST, "trainer.max_epochs=1", "trainer.precision=bf16-mixed", f"hydra.run.dir={out}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads((out / "status.json").read_text())
    assert (status["status"], status["hparams"]["precision"]) == ("finished", "bf16-mixed")
