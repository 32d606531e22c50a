"""``data.augment``: per-image random affine and elastic distortions of the training batches, and only of them."""

import lightning as L
import pytest
import torch
from conftest import bare_trainer

from lenetlab.data.augment import random_affine
from lenetlab.data.mnist import MNISTDataModule, TensorBatches
from lenetlab.models.classifier import Classifier


def test_distortions_keep_the_shape_and_depend_only_on_the_seed():
    x = torch.randn(64, 1, 28, 28)
    first = random_affine(x, torch.Generator().manual_seed(1))
    again = random_affine(x, torch.Generator().manual_seed(1))
    other = random_affine(x, torch.Generator().manual_seed(2))
    assert first.shape == x.shape and first.dtype == x.dtype
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    # one draw per image: no two images are moved alike (the same image, copied, comes out different)
    copies = random_affine(x[:1].expand(8, -1, -1, -1), torch.Generator().manual_seed(3))
    assert all(not torch.allclose(copies[0], copies[i]) for i in range(1, 8))


def test_zero_ranges_leave_the_images_as_they_are():
    x = torch.randn(16, 1, 28, 28)
    same = random_affine(x, torch.Generator().manual_seed(0), rotation=0, scale=0, shift=0)
    torch.testing.assert_close(same, x, atol=1e-4, rtol=0)  # bilinear at the pixel centres, up to rounding


def test_a_whole_pixel_shift_moves_the_image_by_that_pixel():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10:14, 10:14] = 1.0
    # shift=1 with the largest draw moves by almost 1 pixel: the block's centre of mass moves by < 1 pixel
    out = random_affine(x, torch.Generator().manual_seed(0), rotation=0, scale=0, shift=1)
    rows = torch.arange(28.0).view(28, 1)
    moved = (out[0, 0] * rows).sum() / out[0, 0].sum() - (x[0, 0] * rows).sum() / x[0, 0].sum()
    assert 0 < abs(moved) <= 1.0 + 1e-4


def test_an_elastic_distortion_moves_pixels_by_the_requested_amount_smoothly():
    # a horizontal ramp: bilinear sampling of it reads back exactly how far each pixel came along x
    ramp = torch.arange(28.0).expand(64, 1, 28, 28).contiguous()
    out = random_affine(ramp, torch.Generator().manual_seed(0), rotation=0, scale=0, shift=0, elastic=1.5)
    moved = (out - ramp)[:, 0, 6:22, 6:22]  # away from the border, where the ramp is clamped
    assert moved.square().mean().sqrt().item() == pytest.approx(1.5, rel=0.15)
    # smooth: neighbouring pixels move almost alike, unlike white noise of the same size
    neighbours = (moved[:, :, 1:] - moved[:, :, :-1]).square().mean().sqrt().item()
    assert neighbours < 0.2 * 1.5
    again = random_affine(ramp, torch.Generator().manual_seed(0), rotation=0, scale=0, shift=0, elastic=1.5)
    assert torch.equal(out, again)


class RecordBatches(L.Callback):
    """What the network is fed: every training batch, and every validation and test batch."""

    def __init__(self):
        self.seen = {"train": [], "val": [], "test": []}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen["train"].append(tuple(t.clone() for t in batch))

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.seen["val"].append(tuple(t.clone() for t in batch))

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.seen["test"].append(tuple(t.clone() for t in batch))


def fit_and_record(root, augment: float, seed: int = 0) -> tuple[dict, MNISTDataModule]:
    torch.manual_seed(0)
    data = MNISTDataModule(str(root), batch_size=50, eval_batch_size=100, val_size=200, seed=seed, augment=augment)
    model = Classifier({"_target_": "lenetlab.models.LeNet"}, optimizer={"_target_": "torch.optim.SGD", "lr": 0.01})
    recorder = RecordBatches()
    trainer = bare_trainer(max_epochs=2, limit_train_batches=3, num_sanity_val_steps=0, callbacks=[recorder])
    trainer.fit(model, datamodule=data)
    trainer.test(model, datamodule=data, verbose=False)
    return recorder.seen, data


def test_training_batches_are_distorted_with_their_labels_and_evaluation_batches_are_not(fake_mnist):
    seen, data = fit_and_record(fake_mnist, augment=1.0)
    x, y = data.splits["train"]
    plain = []
    for epoch in range(2):  # the undistorted batches of the same order, as the loader yields them
        batches = TensorBatches(x, y, 50, shuffle=True, seed=0)
        batches.set_epoch(epoch)
        plain += list(batches)[:3]
    assert len(seen["train"]) == len(plain) == 6
    for (fed_x, fed_y), (raw_x, raw_y) in zip(seen["train"], plain, strict=True):
        assert fed_x.shape == raw_x.shape
        assert torch.equal(fed_y, raw_y)  # labels kept
        assert not torch.allclose(fed_x, raw_x)  # images distorted
    for split, passes in (("val", 2), ("test", 1)):  # validation after each of the 2 epochs, test once
        split_x, split_y = data.splits[split]
        assert torch.equal(torch.cat([b[0] for b in seen[split]]), torch.cat([split_x] * passes))
        assert torch.equal(torch.cat([b[1] for b in seen[split]]), torch.cat([split_y] * passes))


@pytest.mark.slow  # trains several times or in subprocesses: the slow tier
def test_the_distortions_of_a_run_depend_only_on_its_seed(fake_mnist):
    first, _ = fit_and_record(fake_mnist, augment=1.0, seed=3)
    again, _ = fit_and_record(fake_mnist, augment=1.0, seed=3)
    other, _ = fit_and_record(fake_mnist, augment=1.0, seed=4)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first["train"], again["train"], strict=True))
    assert not torch.allclose(first["train"][0][0], other["train"][0][0])
    off, data = fit_and_record(fake_mnist, augment=0.0, seed=3)
    x, _ = data.splits["train"]
    assert all(any(torch.equal(row, x[i]) for i in range(len(x))) for row in off["train"][0][0][:3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_distortions_run_on_the_gpu():
    x = torch.randn(32, 1, 28, 28, device="cuda")
    out = random_affine(x, torch.Generator(device="cuda").manual_seed(0))
    assert out.device.type == "cuda" and out.shape == x.shape
