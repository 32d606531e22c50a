from types import SimpleNamespace

import pytest
import torch
from torchvision.datasets import MNIST

from lenetlab.data.idx import IdxFormatError
from lenetlab.data.mnist import DATA_DIR_ENV, MNIST_FILES, DataNotFoundError, MNISTDataModule, load_mnist


def make_datamodule(root, **kwargs) -> MNISTDataModule:
    dm = MNISTDataModule(root=str(root), val_size=200, batch_size=64, eval_batch_size=128, **kwargs)
    dm.setup("fit")
    return dm


def test_split_sizes_and_reproducibility(fake_mnist):
    dm, again = make_datamodule(fake_mnist), make_datamodule(fake_mnist, seed=7)
    assert [len(dm.splits[s][0]) for s in ("train", "val", "test")] == [1000, 200, 200]
    assert dm.splits["train"][0].shape[1:] == (1, 28, 28)
    # the split depends on split_seed only, not on the shuffling seed
    assert torch.equal(dm.splits["val"][1], again.splits["val"][1])


def test_batches_are_raw_pixels_and_mean_std_the_training_splits_statistics(fake_mnist):
    dm = make_datamodule(fake_mnist)
    train_x = dm.splits["train"][0]
    raw = load_mnist(fake_mnist, download=False)
    assert (dm.mean, dm.std) == (train_x.mean().item(), train_x.std().item())
    assert 0 < dm.mean < 1 and dm.std > 0
    torch.testing.assert_close(dm.splits["test"][0], raw["test_x"].float().div(255).unsqueeze(1))


def test_batches_cover_the_split_and_reshuffle_per_epoch(fake_mnist):
    dm = make_datamodule(fake_mnist)
    loader = dm.train_dataloader()
    assert len(loader) == -(-1000 // 64)
    first = torch.cat([y for _, y in loader])
    loader.set_epoch(1)
    second = torch.cat([y for _, y in loader])
    assert len(first) == 1000
    assert torch.equal(first.sort().values, second.sort().values)
    assert not torch.equal(first, second)
    assert max(len(x) for x, _ in dm.val_dataloader()) == 128  # evaluation is batched


@pytest.mark.parametrize("on_device", [True, False])
def test_splits_live_on_the_accelerator_so_batches_need_no_copy(fake_mnist, on_device):
    dm = make_datamodule(fake_mnist, on_device=on_device)
    # a stand-in accelerator: PyTorch's "meta" device, so that this runs on any machine
    dm.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("meta")))
    expected = "meta" if on_device else "cpu"
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        assert (loader.x.device.type, loader.y.device.type) == (expected, expected)  # the whole split
        x, y = next(iter(loader))
        assert (x.device.type, y.device.type) == (expected, expected)  # already where the step runs


def test_missing_data_names_directory_files_and_variable(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert DATA_DIR_ENV in message
    assert all(name in message for name in MNIST_FILES)


def test_a_failed_download_is_one_clear_error_and_leaves_no_folder_or_partial_archive(tmp_path, monkeypatch):
    # a mirror that refuses the connection at once, on a machine with or without network
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    fresh = tmp_path / "fresh"
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(fresh, download=True)
    assert str(error.value).startswith(f"MNIST not found in {fresh / 'MNIST' / 'raw'} (")
    assert ") and the download failed (RuntimeError): put the four files there" in str(error.value)
    assert not fresh.exists()  # no empty MNIST/raw/ left behind
    # a raw folder that was already there stays, with what it held
    raw = tmp_path / "kept" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "notes.txt").write_text("mine")
    with pytest.raises(DataNotFoundError):
        load_mnist(tmp_path / "kept", download=True)
    assert [p.name for p in raw.iterdir()] == ["notes.txt"]


def test_not_found_names_the_setting_that_chose_the_directory(tmp_path, monkeypatch):
    env_dir, root_dir = tmp_path / "from_env", tmp_path / "from_root"
    monkeypatch.setenv(DATA_DIR_ENV, str(env_dir))
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(env_dir, download=False)
    assert f"chosen by {DATA_DIR_ENV}={env_dir}; data.root=DIR on the command line chooses another" in str(error.value)
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(root_dir, download=False)
    assert f"chosen by data.root={root_dir}; without data.root, export {DATA_DIR_ENV}=DIR chooses it" in str(
        error.value
    )
    monkeypatch.delenv(DATA_DIR_ENV)
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(root_dir, download=False)
    assert f"chosen by data.root={root_dir}" in str(error.value)


def test_truncated_idx_file_is_refused_by_name(fake_mnist, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / name).write_bytes((fake_mnist / "MNIST" / "raw" / name).read_bytes())
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte.*truncated"):
        load_mnist(tmp_path, download=False)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x03" + labels.read_bytes()[4:])
    images.write_bytes((fake_mnist / "MNIST" / "raw" / images.name).read_bytes())
    with pytest.raises(IdxFormatError, match="t10k-labels-idx1-ubyte: magic number 2051, expected 2049"):
        load_mnist(tmp_path, download=False)
