"""lenetlab as a library: a plain Lightning script builds a Classifier from modules and fits, tests, predicts,
saves and loads it, with one input convention and Lightning's own names."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch

from lenetlab.data import MNISTDataModule
from lenetlab.models import CheckpointError, Classifier, LeNet


@pytest.fixture(scope="module")
def fitted(fake_mnist, tmp_path_factory):
    """The README's script: a LeNet module, SGD and a schedule as partials, a plain Trainer."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("library")
    model = Classifier(
        net=LeNet(filters=[4, 4], hidden=[16]),
        optimizer=functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9),
        scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5),
    )
    data = MNISTDataModule(str(fake_mnist), val_size=200, batch_size=50)
    trainer = L.Trainer(max_epochs=2, accelerator="cpu", default_root_dir=root, enable_progress_bar=False)
    trainer.fit(model, datamodule=data)
    return model, data, trainer, root


def test_a_classifier_of_modules_fits_tests_predicts_saves_and_loads(fitted):
    model, data, trainer, root = fitted
    (tested,) = trainer.test(model, datamodule=data, verbose=False)
    assert set(tested) == {"test/acc", "test/error"}  # Lightning's own results: no extra "step" value
    assert tested["test/acc"] > 0.5

    # one input convention: the datamodule's test batches, predicted, score as the test did
    probabilities = torch.cat(trainer.predict(model, dataloaders=data.test_dataloader()))
    labels = data.splits["test"][1]
    assert (probabilities.argmax(1) == labels).float().mean().item() == pytest.approx(tested["test/acc"])

    # Lightning's checkpoint name holds the real global step (2 epochs of 20 batches)
    (saved,) = (root / "lightning_logs" / "version_0" / "checkpoints").iterdir()
    assert saved.name == f"epoch=1-step={trainer.global_step}.ckpt" and trainer.global_step == 40

    with pytest.raises(CheckpointError, match=r"built from a net object, not a config; pass net=\.\.\."):
        Classifier.load_from_checkpoint(saved)
    loaded = Classifier.load_from_checkpoint(saved, net=LeNet(filters=[4, 4], hidden=[16])).eval()
    # the optimizer was a partial of plain arguments: it is kept as the config that makes it
    assert loaded.hparams.optimizer == {
        "_target_": "torch.optim.sgd.SGD",
        "_partial_": True,
        "lr": 0.1,
        "momentum": 0.9,
    }
    assert (loaded.hparams.mean, loaded.hparams.std) == (data.mean, data.std)
    x = data.splits["test"][0][:16]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), model.eval()(x))


def test_every_entry_point_takes_raw_pixels(fitted):
    model, data, _, _ = fitted
    model.eval()
    pixels, labels = data.splits["test"]
    assert pixels.min() >= 0 and pixels.max() <= 1
    with torch.inference_mode():
        logits = model(pixels)
        torch.testing.assert_close(model.predict_step(pixels), logits.softmax(1))
        torch.testing.assert_close(model.predict_step((pixels, labels)), logits.softmax(1))
        normalized = (pixels - data.mean) / data.std
        torch.testing.assert_close(logits, model.net(normalized))
