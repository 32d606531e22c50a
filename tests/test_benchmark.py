"""``scripts/benchmark.py`` and the speed options it measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial

import torch
from conftest import ROOT

from lenetlab.models import LeNet
from lenetlab.module import Classifier

SCRIPT = ROOT / "scripts" / "benchmark.py"
VARIANTS = ("(a) lenetlab", "(b) plain loop", "(b') plain loop, channels_last", "(c) torchvision pipeline")


def benchmark(*args: str, data_dir, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "LENETLAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_benchmark_compares_the_three_pipelines_on_tiny_data(fake_mnist, tmp_path):
    out = tmp_path / "bench.json"
    args = (
        "--val-size",
        "200",
        "--rounds",
        "2",
        "--limit-batches",
        "3",
        "--threads",
        "1",
        "--augment",
        "--json",
        str(out),
    )
    result = benchmark(*args, data_dir=fake_mnist, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    rows = [line for line in result.stdout.splitlines() if line.startswith("| 16 |")]
    assert [row.split(" | ")[1] for row in rows] == [*VARIANTS, "(a+) lenetlab, data.augment=1"]
    assert "a/b = " in result.stdout and "c/a = " in result.stdout
    assert "augment a+/a = " in result.stdout and "(goal <= 1.30)" in result.stdout
    assert "start-up to first training step: lenetlab " in result.stdout and "`import torch._dynamo` " in result.stdout
    written = json.loads(out.read_text())
    assert set(written["import_s"]) == {"torch", "torch._dynamo", "lightning"}
    variants = written["16"]
    for name, r in variants.items():
        assert len(r["epoch_s"]) == 2, name  # one per round: the warm-up epochs are not counted
        assert r["median_s"] > 0 and r["rss_mb"] > 0, name
    assert {name for name, r in variants.items() if r["eval_s"]} == {
        "lenetlab",
        "plain",
        "plain_channels_last",
        "lenetlab_augment",
    }
    assert variants["plain"]["images"] == 3 * 100  # --limit-batches 3 of the default batch size
    assert 0 < variants["lenetlab"]["startup_s"] < 600


def test_benchmark_refuses_bad_options_by_name(fake_mnist, tmp_path):
    result = benchmark("--device", "tpu", data_dir=fake_mnist, cwd=tmp_path)
    assert result.returncode == 2 and "--device tpu: expected cpu or cuda" in result.stderr
    result = benchmark("--repeats", "0", data_dir=fake_mnist, cwd=tmp_path)
    assert result.returncode == 2 and "--repeats 0: must be a positive integer" in result.stderr


def test_channels_last_changes_the_layout_not_the_result():
    torch.manual_seed(0)
    net = LeNet()
    plain = Classifier(LeNet(), optimizer=partial(torch.optim.SGD, lr=0.1))
    plain.net.load_state_dict(net.state_dict())
    nhwc = Classifier(net, optimizer=partial(torch.optim.SGD, lr=0.1), channels_last=True)
    assert nhwc.net[3].weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.net[3].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(8, 1, 28, 28)
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-4, atol=1e-5)
