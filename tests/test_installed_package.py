"""The package as a user installs it: a wheel in a fresh environment, its commands run from another directory."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from conftest import FAST, ROOT

pytestmark = pytest.mark.slow

SHORT = [*(o for o in FAST if not o.startswith("trainer.max_epochs")), "trainer.max_epochs=1"]
SHORT += ["++trainer.limit_train_batches=2"]
# a network of the user's own, in a config directory outside the package
WIDE = """\
# three 5x5 conv layers of 32 filters; the rest as the lab's LeNet
defaults:
  - lenet
  - _self_
filters: [32, 32, 32]
kernel_size: 5
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The Python of a new virtual environment holding the wheel of this checkout (without network).

    Its dependencies come from this interpreter's site-packages (a .pth file), lenetlab from the wheel alone.
    """
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy: building writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "lenetlab", source / "lenetlab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", work / "wheels", source]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = (work / "wheels").glob("lenetlab-*.whl")

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", work / "venv"], check=True)
    python = work / "venv" / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dependencies = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    Path(site, "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    install = [python, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps", "--no-index", wheel]
    subprocess.run(install, check=True, capture_output=True, env=without_checkout())
    return python


def without_checkout() -> dict[str, str]:
    """This environment without what would put the checkout's lenetlab on the path."""
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "LENETLAB_DATA_DIR")}
    return {**environment, "MPLBACKEND": "Agg"}


def run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([python, *args], cwd=cwd, env=without_checkout(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.timeout(600)  # four fresh processes
def test_the_installed_package_trains_a_users_own_model_searches_and_counts_from_any_directory(
    installed, fake_mnist, tmp_path
):
    where = "import lenetlab; print(lenetlab.__file__, lenetlab.CONF_DIR, lenetlab.__version__)"
    module, configs, version = run(installed, tmp_path, "-c", where).stdout.split()
    assert Path(module).is_relative_to(installed.parents[1]) and not Path(module).is_relative_to(ROOT)
    assert Path(configs, "train.yaml").is_file()  # the configs came with the wheel
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]  # from its metadata

    # a model config of the user's own, beside the package's (found with --config-dir)
    (tmp_path / "my_conf" / "model").mkdir(parents=True)
    (tmp_path / "my_conf" / "model" / "wide.yaml").write_text(WIDE)
    shutil.copytree(fake_mnist / "MNIST", tmp_path / "data" / "MNIST")  # an installed package's default: ./data
    run(installed, tmp_path, "-m", "lenetlab.train", "--config-dir", "my_conf", "model=wide", *SHORT)
    (trained,) = tmp_path.glob("outputs/runs/*/*")  # under the directory it was started from
    status = json.loads((trained / "status.json").read_text())
    assert status["status"] == "finished"
    assert status["metrics"]["params"] == 90_378  # three 5x5 layers of 32 filters, FC 128 (lenetlab.params)
    assert (status["hparams"]["kernel_size"], status["hparams"]["params"]) == (5, 90_378)

    assert run(installed, tmp_path, "-m", "lenetlab.params").stdout.splitlines()[-1].split() == ["Total", "104,250"]

    run(
        installed,
        tmp_path,
        "-m",
        "lenetlab.search",
        *SHORT,
        f"data.root={fake_mnist}",
        "search.n_trials=1",
        "hydra.run.dir=search",
    )
    assert json.loads((tmp_path / "search" / "final.json").read_text())["trial"] == 0
