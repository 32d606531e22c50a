"""The data: MNIST as a LightningDataModule, its IDX files, its augmentation, and images read for prediction.

``_target_: lenetlab.data.MNISTDataModule`` in a config names the datamodule here.
"""

from lenetlab.data.mnist import DATA_DIR_ENV, DataNotFoundError, MNISTDataModule, default_data_root, load_mnist

__all__ = ["DATA_DIR_ENV", "DataNotFoundError", "MNISTDataModule", "default_data_root", "load_mnist"]
