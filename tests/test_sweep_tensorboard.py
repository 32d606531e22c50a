"""What a sweep shows in TensorBoard: jobs named by what varies, the learning curves first, the swept keys first in HParams."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import quote

import pytest
from conftest import FAST, scalars
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from lenetlab import CONF_DIR
from lenetlab.config.job_names import job_name
from lenetlab.config.sweeps import job_configs, varying_keys

STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]  # the HParams table's default
FIXED = [
    *(o for o in FAST if not o.startswith("trainer.max_epochs")),
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=4",
]


@contextlib.contextmanager
def tensorboard(logdir, timeout: float = 90):
    """A TensorBoard server on ``logdir`` at localhost; yields a function that GETs (or POSTs) a JSON route.

    Waits at most ``timeout`` seconds for it to answer, and stops it in every case.
    """
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1"]
    server = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(route: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{route}", data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, "TensorBoard stopped"
            try:
                get("/data/runs")
                break
            except OSError:
                assert time.monotonic() < deadline, "TensorBoard did not answer"
                time.sleep(0.5)
        yield get
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def card_groups(tags: set[str]) -> list[str]:
    """The card groups of TensorBoard's time-series page, in its order: by a tag's first part, tags sorted by name."""
    # its natural sort equals Python's for tags of letters, "_" and "/"
    return list(dict.fromkeys(tag.split("/", 1)[0] for tag in sorted(tags)))


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
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
        assert not (job / "hparams.yaml").exists()
        curves = scalars(job)
        assert [step for step, _ in curves["val/error"]] == [0] and "test/error" in curves
    assert [len(list(job.glob("events.out.tfevents.*"))) for job in jobs] == [1, 1, 1, 1]  # one event file per job
    assert not list(sweep.glob("events.out.tfevents.*"))
    assert "model=mlp,optimizer.lr=0.1 " in result.stdout  # the summary names the jobs the same way

    with tensorboard(sweep) as get:
        experiment = get("/data/plugin/hparams/experiment", {"experimentName": "", "includeMetrics": True})
        runs = get("/data/runs")
        assert sorted(runs) == [job.name for job in jobs]  # the sweep's root is no run of its own
        # the page opens on the learning curves: the first group holds the validation error of every run
        tags = get("/data/plugin/timeseries/tags")["scalars"]["runTagInfo"]
        groups = card_groups({tag for run_tags in tags.values() for tag in run_tags})
        assert groups[0] == "epoch" and groups.index("epoch") < groups.index("test") < groups.index("time")
        assert all({"epoch/val_error", "epoch/train_loss"} <= set(tags[run]) for run in runs)
        for run in runs:  # one line per run over the epochs (here one epoch)
            points = get(f"/data/plugin/scalars/scalars?run={quote(run)}&tag=epoch/val_error")
            assert [step for _, step, _ in points] == [0]
        # one row per run in the HParams table, named by its directory
        groups = get(
            "/data/plugin/hparams/session_groups",
            {"experimentName": "", "allowedStatuses": STATUSES, "colParams": [], "startIndex": 0, "sliceSize": 100},
        )
        assert sorted(group["name"] for group in groups["sessionGroups"]) == [job.name for job in jobs]
    # the columns shown first are those whose values differ between the runs: what the sweep varies
    infos = experiment["hparamInfos"]
    differing = [info["name"] for info in infos if info.get("differs")]
    assert {"lr", "model"} <= set(differing) and [info["name"] for info in infos[: len(differing)]] == differing
    assert not {"seed", "optimizer", "batch_size", "max_epochs"} & set(differing)
    assert {"filters", "hidden", "params", "status"} <= {info["name"] for info in infos}
    assert {"epoch/val_error", "test/error", "time/fit_s"} <= {m["name"]["tag"] for m in experiment["metricInfos"]}

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


def test_a_sweeps_job_configs_are_composed_as_hydras_launcher_composes_them():
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        sweep = compose("train", ["experiment=mlp_baseline"], return_hydra_config=True)
        sweep.hydra.overrides.task = ["optimizer.lr=0.1,0.05"]  # as `-m experiment=mlp_baseline optimizer.lr=...`
        assert [(c.model._target_.rsplit(".", 1)[1], c.optimizer.lr) for c in job_configs(sweep)] == [
            ("MLP", 0.1),
            ("MLP", 0.05),
            ("LeNet", 0.1),
            ("LeNet", 0.05),
        ]


@pytest.mark.slow
def test_a_single_job_sweep_gets_the_job_number_as_name(run_main, tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main("lenetlab.train", "-m", *FIXED, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["0"]
