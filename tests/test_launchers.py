"""The same sweep on Hydra's joblib and submitit launchers: parallel jobs, shared cores, the usual summary.

The sweep starts in this process (``run_main``); its jobs run in the launchers' own processes."""

import json

import pytest
import torch
from conftest import FAST

from lenetlab.config.launchers import available_cores

SWEEP = [*FAST, "trainer.max_epochs=1"]


def jobs(sweep) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep.glob("*/status.json")}


@pytest.mark.slow
def test_joblib_runs_jobs_in_parallel_processes_with_a_share_of_the_cores(run_main, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the launcher's share, not the test process's
    sweep = tmp_path / "sweep"
    result = run_main(
        "lenetlab.train",
        "-m",
        "hydra/launcher=joblib",
        *SWEEP,
        "trainer.accelerator=cpu,gpu",
        f"hydra.sweep.dir={sweep}",
    )
    failed = 0 if torch.cuda.is_available() else 1  # a gpu job on a machine without one fails, the other goes on
    assert result.returncode == (1 if failed else 0), result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr  # sized to the sweep, not to all cores
    statuses = {name: record["status"] for name, record in jobs(sweep).items()}
    cpu, gpu = (next(s for name, s in statuses.items() if f"accelerator={a}" in name) for a in ("cpu", "gpu"))
    assert cpu == "finished" and gpu == ("failed" if failed else "finished")
    assert f"2 jobs, {2 - failed} finished or diverged, {failed} failed" in result.stdout + result.stderr
    threads = max(1, available_cores() // 2)
    (cpu_job,) = sweep.glob("*accelerator=cpu*")
    assert f"{threads} threads" in (cpu_job / "train.log").read_text()


@pytest.mark.slow
def test_submitit_local_runs_the_sweep(run_main, tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    sweep = tmp_path / "sweep"
    result = run_main(
        "lenetlab.train",
        "-m",
        "hydra/launcher=submitit_local",
        *SWEEP,
        "optimizer.lr=0.1,0.05",
        f"hydra.sweep.dir={sweep}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [record["status"] for record in jobs(sweep).values()] == ["finished", "finished"]
    assert "2 jobs, 2 finished" in result.stdout
    threads = max(1, available_cores() // 2)
    for job in jobs(sweep):
        assert f"{threads} threads" in (sweep / job / "train.log").read_text()
