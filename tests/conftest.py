"""Shared fixtures: a small synthetic MNIST written as real IDX files, the real one, and ways to run the CLI.

The report's tests share two trained sweeps, in ``report_sweeps.py``."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest

from lenetlab.data.idx import write_idx
from lenetlab.data.mnist import DATA_DIR_ENV, MNIST_FILES, default_data_root

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_DATA_ENV = "LENETLAB_REQUIRE_DATA"  # =1 (CI): the real-data tests fail instead of skipping without MNIST

pytest_plugins = ["report_sweeps"]  # fixtures of the report's tests

# Overrides that make a run take seconds on the synthetic data set.
FAST = [
    "data.val_size=200",
    "data.batch_size=50",
    "data.eval_batch_size=100",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "callbacks.progress_bar=null",
]


def pytest_configure(config):
    """In one of pytest-xdist's parallel test processes: its share of the cores as torch's threads, also for
    the runs it starts (``OMP_NUM_THREADS``), so that the processes do not wait on each other's threads."""
    import torch

    from lenetlab.config.launchers import available_cores

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, available_cores() // workers))
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


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


def missing_real_mnist() -> str | None:
    """Why the real MNIST cannot be read from the project's data setting (``$LENETLAB_DATA_DIR``, else ``data/``)."""
    raw = default_data_root() / "MNIST" / "raw"
    if all((raw / name).is_file() for name in MNIST_FILES):
        return None
    return f"real MNIST not in {raw}: `make train` downloads it there, or set {DATA_DIR_ENV}=DIR (a copy of it)"


def real_mnist_root() -> Path:
    """The directory holding the real MNIST; a failure where it is missing (reached with LENETLAB_REQUIRE_DATA=1)."""
    if missing := missing_real_mnist():
        pytest.fail(f"{missing} ({REQUIRE_DATA_ENV}=1)")
    return default_data_root()


@pytest.fixture
def real_mnist() -> Path:
    return real_mnist_root()


NOT_RUN = pytest.StashKey[str]()
# the longest files of `make test` (half a minute to two minutes each): started first (pytest-xdist hands out the files in this
# order, pyproject.toml's --no-loadscope-reorder), so that the short ones fill in at the end
LONGEST_FIRST = (
    "test_gpu_check.py",
    "test_reproduce_command.py",
    "test_real_mnist.py",
    "test_search_command.py",
    "test_resume_interrupted.py",
    "test_installed_package.py",
    "test_benchmark.py",
)


@pytest.hookimpl(trylast=True)  # after -m has deselected what is not asked for
def pytest_collection_modifyitems(config, items):
    """The longest files first. Without the real MNIST (and without LENETLAB_REQUIRE_DATA=1) its tests are left
    out, in one line at the end."""
    position = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: position.get(item.path.name, len(LONGEST_FIRST)))
    needing = [item for item in items if "real_mnist" in getattr(item, "fixturenames", ())]
    missing = needing and os.environ.get(REQUIRE_DATA_ENV) != "1" and missing_real_mnist()
    if missing:
        items[:] = [item for item in items if item not in needing]
        config.hook.pytest_deselected(items=needing)
        config.stash[NOT_RUN] = f"{len(needing)} tests not run: {missing}"
        if hasattr(config, "workeroutput"):  # an xdist worker: its controller prints the line
            config.workeroutput["not_run"] = config.stash[NOT_RUN]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's controller, as each worker finishes
def pytest_testnodedown(node, error):
    if "not_run" in getattr(node, "workeroutput", {}):
        node.config.stash[NOT_RUN] = node.workeroutput["not_run"]


@pytest.hookimpl(trylast=True)  # the last line before pytest's counts
def pytest_terminal_summary(terminalreporter, config):
    if NOT_RUN in config.stash:
        terminalreporter.write_line(config.stash[NOT_RUN], yellow=True)


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

    from lenetlab.tensorboard import metric_name

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


@pytest.fixture
def run_main(fake_mnist, tmp_path, monkeypatch, capsys):
    """``run_cli`` in this process: the same call and result, without a new interpreter's seconds of imports.

    For the tests of what a command does; those of what its terminal shows use ``run_cli``.
    """

    def run(module: str, *args: str, data_dir: Path | None = None, env=None) -> subprocess.CompletedProcess:
        monkeypatch.chdir(tmp_path)
        for key, value in {DATA_DIR_ENV: str(data_dir or fake_mnist), "MPLBACKEND": "Agg", **(env or {})}.items():
            monkeypatch.setenv(key, value)
        return python_m(monkeypatch, capsys, module, *args)

    return run


def python_m(monkeypatch, capsys, module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m <module> args`` in this process: the one way the tests run a command in-process."""
    import runpy

    monkeypatch.setattr(sys, "argv", [module, *args])
    try:
        with command_settings_restored():
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 1
        if not isinstance(exit.code, int | None):  # sys.exit("message"), as the interpreter would show it
            print(exit.code, file=sys.stderr)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess([sys.executable, "-m", module, *args], code, captured.out, captured.err)


@contextmanager
def command_settings_restored():
    """Put back what a command's ``main`` and Hydra set up for their process: the environment (Lightning's seed,
    a launcher's threads), Hydra's state, warning filters, loggers, the SIGTERM handler, torch's threads and
    float32 matmul precision."""
    import torch

    threads, precision = torch.get_num_threads(), torch.get_float32_matmul_precision()
    on_sigterm, loggers = signal.getsignal(signal.SIGTERM), logging_state()
    try:
        with mock.patch.dict(os.environ), warnings.catch_warnings():
            # a module imported by an earlier test, run again as __main__: meant here
            warnings.filterwarnings("ignore", "'.*' found in sys.modules after import of package", RuntimeWarning)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.set_float32_matmul_precision(precision)
        signal.signal(signal.SIGTERM, on_sigterm)
        restore_logging(loggers)


def logging_state() -> dict:
    """Every logger's handlers, filters, level, propagation and disabling, as Hydra's job logging and the commands'
    quiet callback will change them."""
    loggers = [logging.root, *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger))]
    return {lg: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate, lg.disabled) for lg in loggers}


def restore_logging(state: dict) -> None:
    """Put the loggers back as :func:`logging_state` found them; close the handlers a run added (its streams
    were this test's captured output, closed once the test ends)."""
    known = {handler for handlers, *_ in state.values() for handler in handlers}
    for logger in [logging.root, *logging.Logger.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        for handler in logger.handlers:
            if handler not in known:
                handler.close()
        handlers, filters, level, propagate, disabled = state.get(logger, ([], [], logging.NOTSET, True, False))
        logger.handlers[:], logger.filters[:] = handlers, filters
        logger.level, logger.propagate, logger.disabled = level, propagate, disabled


def run_in_process(monkeypatch, capsys, module: str, *args: str) -> tuple[int, str]:
    """``python -m <module> args`` in this process (seconds faster than a subprocess); return exit status and stderr."""
    result = python_m(monkeypatch, capsys, module, *args)
    return result.returncode, result.stderr


class _Output:
    """What ``capsys.readouterr()`` gives, for a fixture wider than a test (which cannot use capsys)."""

    def __init__(self):
        self.out, self.err = io.StringIO(), io.StringIO()

    def readouterr(self) -> SimpleNamespace:
        return SimpleNamespace(out=self.out.getvalue(), err=self.err.getvalue())


def python_m_in(cwd: Path, environment: dict[str, str], module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m <module> args`` in this process, run in ``cwd`` with ``environment`` added, from a fixture of
    any scope; the directory, environment and output are put back."""
    output = _Output()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(output.out), redirect_stderr(output.err):
        patch.chdir(cwd)
        for key, value in environment.items():
            patch.setenv(key, value)
        return python_m(patch, output, module, *args)
