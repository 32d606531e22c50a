"""Where the real-data tests look for MNIST: the project's own setting, as ``make train`` downloads it."""

import pytest
from conftest import REQUIRE_DATA_ENV, ROOT, make_fake_mnist, missing_real_mnist, real_mnist_root

import lenetlab.data.mnist
from lenetlab.data import DATA_DIR_ENV


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root of its own (``data/`` beneath it), with neither variable set."""
    (tmp_path / "pyproject.toml").touch()  # a checkout: data/ beside it is the default
    monkeypatch.setattr(lenetlab.data.mnist, "PROJECT_ROOT", tmp_path)
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(REQUIRE_DATA_ENV, raising=False)
    return tmp_path


def test_the_tests_project_root_is_the_checkout():
    assert lenetlab.data.mnist.PROJECT_ROOT == ROOT


def test_without_the_variable_the_real_data_is_read_from_data_where_make_train_downloads(project):
    make_fake_mnist(project / "data", n_train=20, n_test=10)
    assert real_mnist_root() == project / "data"


def test_the_variable_chooses_another_directory(project, tmp_path_factory, monkeypatch):
    elsewhere = make_fake_mnist(tmp_path_factory.mktemp("elsewhere"), n_train=20, n_test=10)
    make_fake_mnist(project / "data", n_train=20, n_test=10)
    monkeypatch.setenv(DATA_DIR_ENV, str(elsewhere))
    assert real_mnist_root() == elsewhere


def test_without_data_the_tests_say_how_to_run_them(project):
    assert missing_real_mnist() == (
        f"real MNIST not in {project / 'data' / 'MNIST' / 'raw'}: `make train` downloads it there, "
        f"or set {DATA_DIR_ENV}=DIR (a copy of it)"
    )


def test_ci_makes_missing_data_a_failure(project, monkeypatch):
    monkeypatch.setenv(REQUIRE_DATA_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=rf"^real MNIST not in .*a copy of it\) \({REQUIRE_DATA_ENV}=1\)$"):
        real_mnist_root()


def test_an_installed_package_defaults_to_data_in_the_current_directory(tmp_path, monkeypatch):
    site_packages, here = tmp_path / "site-packages", tmp_path / "work"
    site_packages.mkdir(), here.mkdir()
    monkeypatch.setattr(lenetlab.data.mnist, "PROJECT_ROOT", site_packages)  # no pyproject.toml: not a checkout
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(here)
    assert lenetlab.data.mnist.default_data_root() == here / "data"
