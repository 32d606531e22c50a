"""What a sweep shows in TensorBoard: jobs named by what varies, one event file each, the swept keys first in HParams."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import FAST, scalars
from omegaconf import OmegaConf

from lenetlab.job_names import job_name, varying_keys

FIXED = [
    *(o for o in FAST if not o.startswith("trainer.max_epochs")),
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=4",
]


def tensorboard_experiment(logdir, tmp_path, timeout: float = 90) -> dict:
    """The HParams experiment that TensorBoard's own server gives its HParams tab for ``logdir``.

    The server gets a free port and is asked until it answers, for at most ``timeout`` seconds.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/data/plugin/hparams/experiment"
    query = json.dumps({"experimentName": "", "includeMetrics": True}).encode()
    log = tmp_path / "tensorboard.log"
    with log.open("w") as output:
        argv = ["--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port), "--load_fast", "false"]
        server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", *argv], stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, f"TensorBoard ended: {log.read_text()[-2000:]}"
            request = urllib.request.Request(url, data=query, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic())) as response:
                    return json.load(response)
            except OSError:  # not listening yet
                assert time.monotonic() < deadline, (
                    f"TensorBoard did not answer in {timeout} s: {log.read_text()[-2000:]}"
                )
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_sweep_is_named_by_what_it_varies_and_shows_it_first_in_hparams(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    # the grid of an experiment (model: mlp,lenet_tiny) and of the command line, with fixed overrides
    args = ["-m", "experiment=mlp_baseline", *FIXED, "optimizer.lr=0.1,0.05", f"hydra.sweep.dir={sweep}"]
    result = run_main("lenetlab.train", *args)
    assert result.returncode == 0, result.stderr[-3000:]

    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert [job.name for job in jobs] == [
        "model=lenet_tiny,optimizer.lr=0.05",
        "model=lenet_tiny,optimizer.lr=0.1",
        "model=mlp,optimizer.lr=0.05",
        "model=mlp,optimizer.lr=0.1",
    ]
    for job in jobs:  # the fixed overrides are still recorded
        assert set(FIXED) <= set(OmegaConf.load(job / ".hydra" / "overrides.yaml"))
        assert len(list(job.glob("events.out.tfevents.*"))) == 1, job.name
        assert not (job / "hparams.yaml").exists()
        curves = scalars(job)
        assert [step for step, _ in curves["val/error"]] == [0] and "test/error" in curves
    assert "model=mlp,optimizer.lr=0.1 " in result.stdout  # the summary names the jobs the same way

    experiment = tensorboard_experiment(sweep, tmp_path)
    infos = experiment["hparamInfos"]
    differing = [info["name"] for info in infos if info.get("differs")]
    assert sorted(differing) == ["lr", "model"]
    assert {info["name"] for info in infos[:2]} == {"lr", "model"}  # the first of the five columns shown
    assert {"filters", "params", "status"} <= {info["name"] for info in infos}
    assert [m["name"]["tag"] for m in experiment["metricInfos"]][:2] == ["val/error", "test/error"]

    resumed = run_main("lenetlab.train", *args, "resume=true")  # the same names: every job is found finished
    assert resumed.returncode == 0 and resumed.stdout.count("already finished, skipped") == 4


def test_varying_keys_follow_hydras_expansion():
    # a key given on the command line replaces the experiment's grid for that key
    grid = ["optimizer.lr=0.1,0.01", "model.filters=8,16", "trainer.max_epochs=2", "optimizer.lr=0.5", "seed=1,1"]
    assert varying_keys(grid) == ["model.filters"]
    assert job_name(["model.filters=8", "optimizer.lr=0.5", "trainer.max_epochs=2"], ["model.filters"], 3) == (
        "model.filters=8"
    )
    assert job_name(["trainer.max_epochs=2"], [], 0) == "0"  # a sweep that varies nothing: Hydra's job number


@pytest.mark.slow
def test_a_single_job_sweep_gets_the_job_number_as_name(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main("lenetlab.train", "-m", *FIXED, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["0"]
