"""lenetlab: LeNet-like CNNs on MNIST with Lightning, Hydra and TensorBoard."""

__version__ = "0.1.0"
