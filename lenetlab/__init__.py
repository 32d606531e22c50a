"""lenetlab: LeNet-like CNNs on MNIST with Lightning, Hydra and TensorBoard."""

from pathlib import Path

CONF_DIR = Path(__file__).resolve().parent / "conf"  # the Hydra configs, shipped inside the package

__version__ = "0.1.0"
