"""lenetlab: LeNet-like CNNs on MNIST with Lightning, Hydra and TensorBoard."""

from pathlib import Path

from lenetlab.config.job_names import register as _register_job_names

CONF_DIR = Path(__file__).resolve().parent / "conf"  # the Hydra configs, shipped inside the package

__version__ = "0.1.0"

_register_job_names()  # here, so that a job unpickled in another process (joblib, submitit) has it too
