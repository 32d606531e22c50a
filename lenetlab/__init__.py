"""lenetlab: LeNet-like CNNs on MNIST with Lightning, Hydra and TensorBoard."""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent / "conf"  # the Hydra configs, shipped inside the package


def _installed_version() -> str:
    """The version in the installed package's metadata (pyproject.toml's, written once there); a checkout put
    on ``sys.path`` without being installed has none, and says ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lenetlab")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
