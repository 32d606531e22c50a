"""The version is written once, in pyproject.toml: lenetlab.__version__ is the installed package's metadata."""

import importlib.metadata
import subprocess
import sys
import tomllib

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_version_is_the_installed_metadatas_which_pyproject_writes():
    import lenetlab

    assert lenetlab.__version__ == importlib.metadata.version("lenetlab") == PROJECT["version"]


def test_a_checkout_that_is_not_installed_still_imports():
    """Without lenetlab's metadata (a clone put on PYTHONPATH), ``import lenetlab`` works and the version is unknown."""
    code = (
        "import importlib.metadata as metadata\n"
        "def missing(name):\n"
        "    raise metadata.PackageNotFoundError(name)\n"
        "metadata.version = missing\n"
        "import lenetlab\n"
        "print(lenetlab.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0+unknown"
