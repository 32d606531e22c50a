"""Two sweeps trained on the synthetic MNIST, shared by the report's tests (``test_report_summary.py`` and
``test_report_figures.py``); a pytest plugin module, registered by ``conftest.py``."""

from __future__ import annotations

import pytest
from conftest import FAST, python_m_in

from lenetlab.data.mnist import DATA_DIR_ENV


@pytest.fixture(scope="session")
def sweeps(fake_mnist, tmp_path_factory):
    """Two sweeps on the synthetic data, made once per test process for the report's tests (test_report_summary.py
    and test_report_figures.py), and in this process: their command lines are not what those tests are about.

    filters 4 and 8 on cpu and on gpu (the gpu jobs fail where no CUDA device is visible), in
    ``<cwd>/outputs/multirun/<date>/<time>``; and seeds 0 and 1 with 5x5 kernels, in ``<tmp>/sweep``.
    """
    cwd, seeds = tmp_path_factory.mktemp("filters"), tmp_path_factory.mktemp("seeds") / "sweep"
    filters = python_m_in(cwd, data(fake_mnist), "lenetlab.train", "-m", *FAST, "model.filters=4,8",
                          "trainer.accelerator=cpu,gpu")  # fmt: skip
    output = filters.stdout + filters.stderr
    assert "4 jobs, 2 finished" in output or "4 jobs, 4 finished" in output, output[-3000:]
    overrides = ["model.filters=4", "model.kernel_size=5", "seed=0,1", f"hydra.sweep.dir={seeds}"]
    result = python_m_in(seeds.parent, data(fake_mnist), "lenetlab.train", "-m", *FAST, *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    (filters,) = (cwd / "outputs" / "multirun").glob("*/*")
    return filters, seeds


def data(fake_mnist) -> dict[str, str]:
    return {DATA_DIR_ENV: str(fake_mnist), "MPLBACKEND": "Agg"}


@pytest.fixture(scope="session")
def filters_sweep(sweeps):
    return sweeps[0]


@pytest.fixture(scope="session")
def seeds_sweep(sweeps):
    return sweeps[1]
