"""MNIST as a LightningDataModule: three in-memory tensors, batched by indexing."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch
from torchvision.datasets import MNIST

from lenetlab.data.augment import random_affine
from lenetlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxFormatError, check_idx_file
from lenetlab.output import not_accepted

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding lenetlab/
DATA_DIR_ENV = "LENETLAB_DATA_DIR"
# data.distortion at data.augment=1 (lenetlab.data.augment.random_affine's arguments)
DISTORTION = {"rotation": 10.0, "scale": 0.1, "shift": 2.0, "elastic": 0.0, "elastic_sigma": 4.0}
SCALED = ("rotation", "scale", "shift", "elastic")  # the amounts data.augment multiplies (not the smoothing)
MNIST_FILES = {
    "train-images-idx3-ubyte": IMAGES_MAGIC,
    "train-labels-idx1-ubyte": LABELS_MAGIC,
    "t10k-images-idx3-ubyte": IMAGES_MAGIC,
    "t10k-labels-idx1-ubyte": LABELS_MAGIC,
}


class DataNotFoundError(FileNotFoundError):
    """MNIST is neither on disk nor downloadable."""


def default_data_root() -> Path:
    """``$LENETLAB_DATA_DIR`` if set, else ``data/``: the checkout's, or the current directory's for an installed package."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    in_checkout = (PROJECT_ROOT / "pyproject.toml").is_file()
    return (PROJECT_ROOT if in_checkout else Path.cwd()) / "data"


def has_mnist(root: str | Path) -> bool:
    """Whether ``root/MNIST/raw`` holds MNIST's four files."""
    return all((Path(root) / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES)


def chosen_by(root: Path) -> str:
    """Which setting chose ``root`` and how to choose another, for error messages."""
    env = os.environ.get(DATA_DIR_ENV)
    if env and Path(env) == Path(root):
        return f"chosen by {DATA_DIR_ENV}={env}; data.root=DIR on the command line chooses another"
    if Path(root) == default_data_root():
        return f"the default; choose another with export {DATA_DIR_ENV}=DIR or data.root=DIR"
    return f"chosen by data.root={root}; without data.root, export {DATA_DIR_ENV}=DIR chooses it"


def download_mnist(root: Path) -> None:
    """Download MNIST into ``root/MNIST/raw`` with torchvision; a failed download leaves no folder or partial file."""
    raw = Path(root) / "MNIST" / "raw"
    created = [d for d in (Path(root), raw.parent, raw) if not d.exists()]
    before = set(raw.iterdir()) if raw.is_dir() else set()
    try:
        MNIST(root, train=True, download=True)
    except BaseException:
        for path in set(raw.iterdir()) - before if raw.is_dir() else ():
            if path.is_file() and path.suffix == ".gz":  # an archive cut off mid-download
                path.unlink()
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def ensure_mnist(root: Path, download: bool = True) -> Path:
    """Check MNIST's four IDX files under ``root/MNIST/raw`` (downloading them if missing); return that folder."""
    raw = Path(root) / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing and download:
        try:
            download_mnist(root)
        except Exception as error:  # torchvision raises RuntimeError/URLError/OSError by mirror
            raise DataNotFoundError(
                f"MNIST not found in {raw} ({chosen_by(root)}; missing: {', '.join(missing)}) and the download "
                f"failed ({type(error).__name__}): put the four files there, or choose a directory that holds MNIST/raw/"
            ) from None
        missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise DataNotFoundError(f"MNIST not found in {raw} ({chosen_by(root)}): expected {', '.join(MNIST_FILES)}")
    dims = {name: check_idx_file(raw / name, magic) for name, magic in MNIST_FILES.items()}
    for split in ("train", "t10k"):
        images, labels = dims[f"{split}-images-idx3-ubyte"], dims[f"{split}-labels-idx1-ubyte"]
        if images[0] != labels[0]:
            raise IdxFormatError(
                f"{raw / (split + '-images-idx3-ubyte')}: {images[0]} images but "
                f"{labels[0]} labels in {split}-labels-idx1-ubyte"
            )
    return raw


def load_mnist(root: Path, download: bool = True) -> dict[str, torch.Tensor]:
    """MNIST's training and test images (uint8, N x 28 x 28) and labels, read by torchvision."""
    ensure_mnist(root, download)
    train, test = MNIST(root, train=True), MNIST(root, train=False)
    return {"train_x": train.data, "train_y": train.targets, "test_x": test.data, "test_y": test.targets}


class TensorBatches:
    """Yields ``(x, y)`` batches of two tensors by indexing, reshuffled each epoch.

    Lightning calls ``sampler.set_epoch(epoch)`` on whatever it iterates; the permutation
    then depends only on ``(seed, epoch)``, so a resumed run sees the same batches.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool, seed: int = 0):
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self.sampler = self  # where Lightning looks for set_epoch
        self.batch_sampler = None  # what Lightning inspects on DataLoader-like objects

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        n = len(self.x)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=generator).to(self.x.device)
            for start in range(0, n, self.batch_size):
                index = order[start : start + self.batch_size]
                # index_select: half the time of x[index] (advanced indexing) for a batch of MNIST on a CPU
                yield self.x.index_select(0, index), self.y.index_select(0, index)
        else:
            for start in range(0, n, self.batch_size):
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]


def _number(value, low: float = 0.0) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= low


def _check_arguments(root, batch_size, eval_batch_size, augment, distortion: dict) -> None:
    for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise not_accepted(name, value, "a positive integer")
    if not _number(augment):
        raise not_accepted("augment", augment, "a number >= 0 (0: off, 1: the distortion ranges)")
    for name, amount in distortion.items():
        if name == "elastic_sigma" and not (_number(amount) and amount > 0):
            raise not_accepted(f"distortion.{name}", amount, "a number > 0 (pixels)")
        if not _number(amount):
            raise not_accepted(f"distortion.{name}", amount, "a number >= 0 (0: none)")
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        raise ValueError(f"root={str(root)!r} is a file: expected a directory holding MNIST/raw/")


class MNISTDataModule(L.LightningDataModule):
    """MNIST split 55,000/5,000/10,000, as raw pixels in [0, 1] (N x 1 x 28 x 28) with integer labels.

    ``mean`` and ``std`` are the training split's pixel statistics, known after ``setup``: the normalization a
    ``Classifier`` takes when it is fitted on this datamodule (it normalizes its own input).

    ``augment`` > 0 distorts every training batch where it already is (on the GPU when training
    there): each image gets its own random affine within ``augment`` times ``distortion``'s ranges
    (``rotation`` degrees, ``scale`` fraction, ``shift`` pixels) and, with ``elastic`` > 0, an elastic
    distortion moving pixels by ``augment`` x ``elastic`` pixels (RMS), smooth over ``elastic_sigma`` pixels. The draws depend only on
    ``(seed, epoch)``, like the batch order. Validation and test batches are never distorted.
    The arguments are saved in the checkpoints of a run; a bad one is refused with a ValueError that names it.
    """

    def __init__(
        self,
        root: str | None = None,
        batch_size: int = 100,
        eval_batch_size: int = 1000,
        val_size: int = 5000,
        split_seed: int = 42,
        seed: int = 0,
        full_train: bool = False,
        on_device: bool = True,
        download: bool = True,
        augment: float = 0.0,
        distortion: dict | None = None,
    ):
        super().__init__()
        distortion = {**DISTORTION, **(distortion or {})}  # a plain dict, saved as data
        _check_arguments(root, batch_size, eval_batch_size, augment, distortion)
        self.save_hyperparameters(logger=False)
        self.root = Path(root) if root else default_data_root()
        self.hparams["root"] = str(self.root.resolve())  # where it was, for a trained model's commands
        self.augment = float(augment)
        self.distortion = distortion
        self._augment_rng: tuple[int, torch.Generator] | None = None
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_size, self.split_seed, self.seed = val_size, split_seed, seed
        self.full_train, self.on_device, self.download = full_train, on_device, download
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.mean: float | None = None
        self.std: float | None = None

    def prepare_data(self) -> None:
        ensure_mnist(self.root, self.download)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        raw = load_mnist(self.root, download=False)
        n = len(raw["train_x"])
        if not 0 < self.val_size < n:
            raise ValueError(f"data.val_size={self.val_size}: must be between 1 and {n - 1}")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        train_idx, val_idx = order[self.val_size :], order[: self.val_size]
        if self.full_train:  # the final run of a search: all training images, no validation
            train_idx = order
        images = raw["train_x"][train_idx].float().div_(255).unsqueeze(1)
        self.mean, self.std = images.mean().item(), images.std().item()

        def pixels(x: torch.Tensor) -> torch.Tensor:
            return x.float().div_(255).unsqueeze(1)

        self.splits = {
            "train": (images, raw["train_y"][train_idx]),
            "val": (pixels(raw["train_x"][val_idx]), raw["train_y"][val_idx]),
            "test": (pixels(raw["test_x"]), raw["test_y"]),
        }

    def _move_to_device(self) -> None:
        """Move every split to the accelerator once, so no batch is copied per step."""
        trainer = self.trainer
        if not self.on_device or trainer is None:
            return
        device = trainer.strategy.root_device
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}

    def _batches(self, split: str, batch_size: int, shuffle: bool) -> TensorBatches:
        self._move_to_device()
        x, y = self.splits[split]
        return TensorBatches(x, y, batch_size, shuffle, self.seed)

    def train_dataloader(self) -> TensorBatches:
        return self._batches("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self._batches("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._batches("test", self.eval_batch_size, shuffle=False)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """Distort training batches (``augment`` > 0), on the device the step runs on."""
        if self.augment <= 0 or not self.trainer.training:
            return batch
        x, y = batch
        return self.distort(x, self.trainer.current_epoch), y

    def distort(self, x: torch.Tensor, epoch: int) -> torch.Tensor:
        """``x`` with per-image random distortions, drawn from a generator seeded by (seed, epoch)."""
        if self._augment_rng is None or self._augment_rng[0] != epoch or self._augment_rng[1].device != x.device:
            generator = torch.Generator(device=x.device).manual_seed((self.seed * 100_003 + epoch) ^ 0x5EED)
            self._augment_rng = (epoch, generator)
        ranges = {key: value * self.augment if key in SCALED else value for key, value in self.distortion.items()}
        return random_affine(x, self._augment_rng[1], **ranges)
