"""lenetlab.export.onnx: an ONNX model of raw pixels that onnxruntime runs to torch's logits."""

from __future__ import annotations

import copy
import io
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest
import torch

from lenetlab.export.onnx import export_onnx, onnx_logits
from lenetlab.models import MLP, LeNet

MEAN, STD = 0.1307, 0.3081
NETS = ["lenet", "mlp", "channels_last_with_dropout_in_training_mode", "compiled"]


def build(kind: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The network to export, and an eager twin in eval mode that gives the expected logits."""
    torch.manual_seed(0)
    if kind == "mlp":
        net = MLP()
    elif kind.startswith("channels_last"):  # exported as it would be used: in eval mode, without dropout
        net = LeNet(dropout=0.5).to(memory_format=torch.channels_last).train()
    else:
        net = LeNet()
    reference = copy.deepcopy(net).eval()
    if kind == "compiled":
        net.compile()  # in place, as train.py's compile=true does
    return net, reference


def torch_logits(net: torch.nn.Module, pixels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net((torch.from_numpy(pixels) - MEAN) / STD).numpy()


def random_pixels(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, 28, 28), dtype=np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """Each kind of network exported once: ``{kind: (onnx path, reference net, what the export said)}``.

    The export replaces a file already there; its warnings and printed lines are what it said.
    """
    models = {}
    for kind in NETS:
        net, reference = build(kind)
        training = net.training
        path = tmp_path_factory.mktemp(kind) / "model.onnx"
        path.write_bytes(b"an older model")
        output = io.StringIO()
        with warnings.catch_warnings(record=True) as raised, redirect_stdout(output), redirect_stderr(output):
            warnings.simplefilter("always")
            assert export_onnx(net, MEAN, STD, path) == path
        assert net.training == training  # the caller's mode is restored
        models[kind] = path, reference, [str(w.message) for w in raised] + output.getvalue().splitlines()
    return models


@pytest.mark.parametrize("kind", NETS)
def test_onnxruntime_gives_torchs_logits_for_raw_pixels(exported, kind):
    path, reference, said = exported[kind]
    pixels = random_pixels(37)
    logits = onnx_logits(path, pixels, batch_size=10)  # four batches, the last one short
    expected = torch_logits(reference, pixels)
    assert logits.shape == (37, 10)
    assert np.abs(logits - expected).max() < 1e-4
    assert (logits.argmax(1) == expected.argmax(1)).all()
    assert said == []  # no DeprecationWarning, progress line or other noise from the exporter


def test_the_model_has_named_input_and_output_and_takes_any_batch_size(exported):
    import onnxruntime

    path, reference, _ = exported["lenet"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    for batch in (1, 7):
        pixels = random_pixels(batch, seed=batch)
        (logits,) = session.run(None, {"pixels": pixels})
        assert logits.shape == (batch, 10)
        assert np.abs(logits - torch_logits(reference, pixels)).max() < 1e-4
    assert onnx_logits(path, random_pixels(0)).shape == (0, 10)


def test_a_failed_export_leaves_the_model_that_was_there(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise RuntimeError("the exporter gave up")

    path = tmp_path / "model.onnx"
    path.write_bytes(b"an older model")
    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(RuntimeError, match="the exporter gave up"):
        export_onnx(LeNet(), MEAN, STD, path)
    assert path.read_bytes() == b"an older model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize(("missing", "call"), [("onnxscript", "export"), ("onnx", "export"), ("onnxruntime", "run")])
def test_without_the_export_extra_the_error_says_how_to_install_it(monkeypatch, exported, tmp_path, missing, call):
    monkeypatch.setitem(sys.modules, missing, None)  # what an absent package looks like to import
    with pytest.raises(ImportError) as error:
        if call == "export":
            export_onnx(LeNet(), MEAN, STD, tmp_path / "model.onnx")
        else:
            onnx_logits(exported["lenet"][0], random_pixels(1))
    assert str(error.value) == f'ONNX export needs the {missing} package: pip install "lenetlab[export]"'
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.slow
def test_on_the_real_test_set_onnx_and_torch_agree_on_every_image(real_mnist, tmp_path):
    from torchvision.datasets import MNIST

    torch.manual_seed(0)
    train, test = MNIST(real_mnist, train=True), MNIST(real_mnist, train=False)
    net = LeNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    for batch in torch.arange(6000).split(100):  # briefly trained: confident logits, as a real model's are
        x = (train.data[batch].unsqueeze(1) / 255 - MEAN) / STD
        loss = torch.nn.functional.cross_entropy(net(x), train.targets[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    pixels = (test.data.unsqueeze(1) / 255).numpy()

    logits = onnx_logits(export_onnx(net, MEAN, STD, tmp_path / "model.onnx"), pixels)

    expected = np.concatenate([torch_logits(net, batch) for batch in np.array_split(pixels, 10)])
    assert logits.shape == (10_000, 10)
    assert np.abs(logits - expected).max() < 1e-4
    assert (logits.argmax(1) == expected.argmax(1)).all()
    assert (expected.argmax(1) == test.targets.numpy()).mean() > 0.8  # the comparison is of a working model
