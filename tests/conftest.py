"""Shared fixtures: a small synthetic MNIST written as real IDX files, and a way to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lenetlab.idx import write_idx

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("LENETLAB_DATA_DIR", ROOT.parent / "shared" / "data"))

# Overrides that make a run take seconds on the synthetic data set.
FAST = [
    "data.val_size=200",
    "data.batch_size=50",
    "data.eval_batch_size=100",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
]


def make_fake_mnist(root: Path, n_train: int = 1200, n_test: int = 200, seed: int = 0) -> Path:
    """Write learnable 28x28 digits (a bright block whose position encodes the label) as IDX files."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 5)
            images[i, 4 + 10 * r : 12 + 10 * r, 1 + 5 * c : 6 + 5 * c] = 255
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session")
def fake_mnist(tmp_path_factory) -> Path:
    return make_fake_mnist(tmp_path_factory.mktemp("mnist"))


@pytest.fixture
def run_cli(fake_mnist, tmp_path):
    """Run ``python -m <module> args`` on the synthetic data, in tmp_path; return the CompletedProcess."""

    def run(module: str, *args: str, data_dir: Path | None = None, timeout: int = 300, env=None):
        environment = {
            **os.environ,
            "LENETLAB_DATA_DIR": str(data_dir or fake_mnist),
            "MPLBACKEND": "Agg",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar curve of a run directory as ``{metric: [(step, value), ...]}``, read by TensorBoard."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    from lenetlab.tensorboard_tags import metric_name

    multiplexer = EventMultiplexer(size_guidance={"scalars": 0}).AddRunsFromDirectory(str(run_dir))
    multiplexer.Reload()
    curves: dict[str, list[tuple[int, float]]] = {}
    for run, tags in multiplexer.Runs().items():
        if Path(run_dir, run).resolve() != Path(run_dir).resolve():
            continue
        for tag in tags["scalars"]:
            curves.setdefault(metric_name(tag), []).extend((e.step, e.value) for e in multiplexer.Scalars(run, tag))
    return {tag: sorted(points) for tag, points in curves.items()}


def bare_trainer(**settings):
    """A CPU Lightning Trainer with nothing around the loop (no logger, checkpoints, bar or summary)."""
    import lightning as L

    quiet = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
    return L.Trainer(accelerator="cpu", enable_model_summary=False, **quiet, **settings)


def run_in_process(monkeypatch, capsys, module: str, *args: str) -> tuple[int, str]:
    """``python -m <module> args`` in this process (seconds faster than a subprocess); return exit status and stderr."""
    import runpy

    from hydra.core.global_hydra import GlobalHydra

    monkeypatch.setattr(sys, "argv", [module, *args])
    GlobalHydra.instance().clear()
    try:
        runpy.run_module(module, run_name="__main__")
        code = 0
    except SystemExit as exit:
        code = exit.code
    finally:
        GlobalHydra.instance().clear()
    return code, capsys.readouterr().err
