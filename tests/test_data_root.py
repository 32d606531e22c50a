"""Where lenetlab looks for MNIST without ``data.root``: ``$LENETLAB_DATA_DIR``, else ``data/`` beside the code
in a checkout (where ``make train`` downloads it), else ``data/`` in the current directory."""

import pytest

import lenetlab.data.mnist
from lenetlab.data import DATA_DIR_ENV
from lenetlab.data.mnist import default_data_root


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout of its own (``pyproject.toml`` beside ``lenetlab/``), run from elsewhere, with no variable set."""
    root, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    root.mkdir(), elsewhere.mkdir()
    (root / "pyproject.toml").touch()
    monkeypatch.setattr(lenetlab.data.mnist, "PROJECT_ROOT", root)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(elsewhere)
    return root


def test_a_checkout_reads_data_beside_its_code_from_any_directory(checkout):
    assert default_data_root() == checkout / "data"


def test_the_variable_chooses_another_directory(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "mnist"))
    assert default_data_root() == tmp_path / "mnist"


def test_an_installed_package_reads_data_in_the_current_directory(checkout, tmp_path, monkeypatch):
    site_packages = tmp_path / "site-packages"
    site_packages.mkdir()
    monkeypatch.setattr(lenetlab.data.mnist, "PROJECT_ROOT", site_packages)  # no pyproject.toml: not a checkout
    assert default_data_root() == tmp_path / "elsewhere" / "data"
