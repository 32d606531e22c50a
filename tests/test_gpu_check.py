"""``scripts/gpu_check.sh --dry-run``: every part of the GPU check runs on the CPU and writes its files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from lenetlab.reproduce.cost_checks import benchmark_epoch_s

SCRIPT = ROOT / "scripts" / "gpu_check.sh"
TINY_EPOCHS = {"lenetlab_tiny": 5, "plain_tiny": 5}
PARTS = [
    "versions",
    "gpu_tests",
    "profile_eager",
    "profile_reduce-overhead",
    "benchmark",
    "optimizers",
    "learning_rate",
    "speedrun",
]


@pytest.mark.slow
def test_the_dry_run_writes_every_file_of_the_gpu_check(fake_mnist, tmp_path):
    out = tmp_path / "gpu_check"
    # the interpreter running the tests (otherwise the script picks .venv/bin/python, else python3, which it
    # would first install lenetlab's dependencies into)
    env = {**os.environ, "LENETLAB_DATA_DIR": str(fake_mnist), "PYTHON": sys.executable}
    result = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", str(out)], env=env, capture_output=True, text=True, timeout=3600
    )
    assert result.returncode == 0, result.stderr[-3000:]

    with (out / "parts.tsv").open() as table:
        parts = list(csv.DictReader(table, delimiter="\t"))
    assert [p["part"] for p in parts] == PARTS
    assert {p["part"]: p["exit_status"] for p in parts} == dict.fromkeys(PARTS, "0")
    assert all(float(p["wall_s"]) > 0 for p in parts)  # the learning_rate row: the study's wall time
    for name in PARTS:
        assert (out / f"{name}.log").is_file(), name
    assert "torch 2." in (out / "versions.log").read_text()
    assert "2 skipped" in (out / "gpu_tests.log").read_text()  # both found by name, skipped without CUDA
    for mode in ("eager", "reduce-overhead"):
        assert "Self CPU time total" in (out / f"profile_{mode}.txt").read_text(), mode
    times = json.loads((out / "epoch_times.json").read_text())
    assert set(times) == {"eager", "reduce-overhead"}
    assert all(t["status"] == "finished" and t["steady_epoch_s"] > 0 for t in times.values())
    assert "SGD: fastest " in (out / "optimizers.log").read_text()
    written = json.loads((out / "benchmark_cpu.json").read_text())
    bench = written["16"]["32"]
    # what `python -m lenetlab.reproduce gpu_results=DIR` reads from DIR/benchmark_cuda.json
    assert benchmark_epoch_s(written, 16) == bench["lenetlab"]["median_s"]
    assert {"lenetlab", "plain", "lenetlab_tiny", "plain_tiny"} <= set(bench)
    # the tiny pair trains the same 784-8-10 network: lenetlab's run recorded it, the loop saw the same images
    assert (bench["lenetlab_tiny"]["hidden"], bench["lenetlab"]["hidden"]) == ("8", "128")
    assert bench["plain_tiny"]["images"] == bench["plain"]["images"] == 3 * 100
    # one round: one timed epoch of each variant, five of the tiny pair's short ones
    assert {name: len(r["epoch_s"]) for name, r in bench.items()} == {**dict.fromkeys(bench, 1), **TINY_EPOCHS}
    log = (out / "benchmark.log").read_text()
    assert "filters 16, precision 32: a/b = " in log and "tiny t/t' = " in log
    assert "start-up to first training step: lenetlab " in log and "`import torch._dynamo` " in log
    assert bench["lenetlab"]["startup_s"] > 0  # recorded by the run (None where it was not measured)
    imports = written["import_s"]  # each with those before it: torch, then torch._dynamo, then all of lightning
    assert 0 < imports["torch"] < imports["torch._dynamo"] < imports["lightning"]
    (speedrun,) = json.loads((out / "speedrun_cpu.json").read_text())  # one round: the speedrun beside its yardsticks
    assert {"default", "speedrun", "plain", "import"} <= set(speedrun) and speedrun["plain"]["device"] == "cpu"
    assert speedrun["speedrun"]["fit_s"] > 0 and speedrun["default"]["steady_epoch_s"] > 0
    jobs = sorted(p.parent.name for p in (out / "learning_rate").glob("*/status.json"))
    assert jobs == [f"optimizer.lr={lr}" for lr in ("0.0001", "0.001", "0.01", "0.1")]


def test_an_unknown_option_is_refused_in_one_line(tmp_path):
    result = subprocess.run(["bash", str(SCRIPT), "--fast"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "error: unknown option --fast (expected --dry-run or an output folder)\n"
