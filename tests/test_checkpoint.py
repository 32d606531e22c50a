"""A checkpoint holds its model: ``Classifier.load_from_checkpoint(path)`` rebuilds it, and it tests as the run did."""

import pytest
import torch
from conftest import FAST, bare_trainer, run_in_process
from torch import nn

from lenetlab.data import MNISTDataModule, load_mnist
from lenetlab.models.classifier import Classifier
from lenetlab.run.status import read_status


class OwnNet(nn.Sequential):
    """A user's own network (``model._target_=...``): not lenetlab's, and without an ``input_shape``."""

    def __init__(self, hidden=(32,), activation="relu", in_channels=1, num_classes=10):
        super().__init__(nn.Flatten(), nn.Linear(in_channels * 28 * 28, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], 10))


def train_run(monkeypatch, capsys, fake_mnist, out, *overrides: str) -> None:
    monkeypatch.setenv("LENETLAB_DATA_DIR", str(fake_mnist))
    args = [*FAST, "trainer.max_epochs=1", *overrides, f"hydra.run.dir={out}"]
    code, stderr = run_in_process(monkeypatch, capsys, "lenetlab.train", *args)
    assert code == 0, stderr[-3000:]


RUNS = {
    "lenet": ["model=lenet"],
    "lenet_tiny": ["model=lenet_tiny"],
    "strided": ["model=strided"],
    "mlp": ["model=mlp"],
    "own_target": ["model=mlp", f"model._target_={__name__}.OwnNet"],
    "ema": ["model=lenet_tiny", "callbacks=ema", "callbacks.ema.decay=0.9"],
    "nchw": ["model=lenet_tiny", "channels_last=false", "scheduler=onecycle"],
    "adam": ["model=lenet_tiny", "optimizer=adam", "scheduler=exponential"],
    "cosine": ["model=mlp", "scheduler=cosine"],
    "compile": ["model=lenet_tiny", "compile=true"],
}


SLOW_RUNS = {"compile", "ema"}  # compiling, and the EMA's extra weights: the slow tier


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_RUNS else n for n in RUNS])
def test_a_loaded_checkpoint_tests_as_its_run_did(name, fake_mnist, tmp_path, monkeypatch, capsys):
    train_run(monkeypatch, capsys, fake_mnist, tmp_path, *RUNS[name])
    best = tmp_path / "checkpoints" / "best.ckpt"
    # every checkpoint lenetlab writes loads with no option; a user's own network, once trusted
    model = Classifier.load_from_checkpoint(best, trust=[OwnNet] if name == "own_target" else [])
    status = read_status(tmp_path)
    assert not any("_orig_mod" in name for name in torch.load(best, weights_only=True)["state_dict"])

    assert (model.hparams.mean, model.hparams.std) == (status["mean"], status["std"])
    assert list(model.hparams.input_shape) == [1, 28, 28]
    # how it trained (compiled, channels_last) is not what it is: it loads as a plain, eager NCHW network
    assert not {"compile", "channels_last", "steps_per_call", "finite_check_every"} & set(model.hparams)
    assert all(p.is_contiguous() for p in model.net.parameters())
    # another validation split: the normalization comes from the model, not from this split's statistics
    data = MNISTDataModule(str(fake_mnist), val_size=100)
    (test,) = bare_trainer().test(model, datamodule=data, verbose=False)
    assert test["test/error"] == status["metrics"]["test_error"]


def test_predict_step_classifies_raw_pixels_as_the_test_did(fake_mnist, tmp_path, monkeypatch, capsys):
    train_run(monkeypatch, capsys, fake_mnist, tmp_path, "model=lenet_tiny")
    model = Classifier.load_from_checkpoint(tmp_path / "checkpoints" / "best.ckpt")
    raw = load_mnist(fake_mnist, download=False)
    pixels = raw["test_x"].float().div(255).unsqueeze(1)  # what torchvision's ToTensor gives
    batches = bare_trainer().predict(model, torch.utils.data.DataLoader(pixels, batch_size=64))
    probabilities = torch.cat(batches)

    data = MNISTDataModule(str(fake_mnist), val_size=200)  # the run's split: its normalized test images
    data.setup()
    with torch.inference_mode():
        expected = model.eval()(data.splits["test"][0]).softmax(dim=1)
    torch.testing.assert_close(probabilities, expected)
    error = (probabilities.argmax(1) != raw["test_y"]).float().mean().item()
    assert error == pytest.approx(read_status(tmp_path)["metrics"]["test_error"])
