"""A trained network as an ONNX model that takes raw pixels, onnxruntime to run it, and its check against PyTorch.

The model's input ``pixels`` is N x 1 x 28 x 28 in [0, 1] (any N), as ``lenetlab.data.images.load_images``
gives them; its output ``logits`` is N x classes. The training set's normalization is part of the graph.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
from torch import nn

from lenetlab.data.mnist import load_mnist
from lenetlab.output.atomic import atomic_file
from lenetlab.trained import Trained

INPUT_NAME, OUTPUT_NAME = "pixels", "logits"
INSTALL = 'pip install "lenetlab[export]"'


class Normalized(nn.Module):
    """``net((pixels - mean) / std)``: raw pixels in, the network's logits out."""

    def __init__(self, net: nn.Module, mean: float | None, std: float | None):
        super().__init__()
        self.net = net
        self.mean, self.std = (float(mean), float(std)) if mean is not None else (0.0, 1.0)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net((pixels - self.mean) / self.std)


def export_onnx(
    net: nn.Module, mean: float, std: float, path: str | Path, input_shape: Sequence[int] = (1, 28, 28)
) -> Path:
    """Write ``net`` with its input normalization as an ONNX model at ``path`` (replaced atomically); return it.

    ``net`` may be in channels_last memory format or compiled in place: what is exported is its eager
    ``forward``, in eval mode (the mode it was in is restored).
    """
    for package in ("onnx", "onnxscript"):  # what torch's exporter needs
        _require(package)
    path = Path(path)
    parameter = next(net.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    example = torch.rand(2, *input_shape, device=device)  # a batch of 1 would be taken for a fixed size
    training = net.training
    try:
        program = torch.onnx.export(
            Normalized(net, mean, std).eval(),
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={INPUT_NAME: {0: torch.export.Dim("batch")}},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    finally:
        net.train(training)
    with atomic_file(path, "wb") as f:
        f.write(program.model_proto.SerializeToString())
    return path


def onnx_logits(path: str | Path, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The logits of the ONNX model at ``path`` for raw pixels ``images`` (N x 1 x 28 x 28, float32 in [0, 1]).

    Runs onnxruntime on the CPU, ``batch_size`` images at a time, so that memory stays bounded for any N.
    """
    onnxruntime = _require("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = np.asarray(images, dtype=np.float32)
    batches = [
        session.run([OUTPUT_NAME], {INPUT_NAME: images[start : start + batch_size]})[0]
        for start in range(0, len(images), batch_size)
    ]
    if not batches:
        return np.zeros((0, session.get_outputs()[0].shape[1]), dtype=np.float32)
    return np.concatenate(batches)


class ExportMismatch(RuntimeError):
    """onnxruntime and PyTorch disagree on the exported model."""


def mnist_test_pixels(root: str) -> torch.Tensor:
    """MNIST's 10,000 test images as raw pixels in [0, 1], N x 1 x 28 x 28."""
    return load_mnist(Path(root), download=False)["test_x"].float().div(255).unsqueeze(1)


def compare(trained: Trained, onnx_path: Path, pixels: torch.Tensor, batch_size: int) -> dict:
    """PyTorch's and onnxruntime's logits on ``pixels``: how many digits differ and the largest logit difference."""
    model, differing, largest = trained.model, 0, 0.0
    for batch in pixels.split(batch_size):
        with torch.inference_mode():
            expected = model(batch).numpy()
        found = onnx_logits(onnx_path, batch.numpy())
        differing += int((expected.argmax(1) != found.argmax(1)).sum())
        largest = max(largest, float(np.abs(expected - found).max()))
    return {"images": len(pixels), "differing_digits": differing, "largest_logit_difference": largest}


def export(
    trained: Trained, output: Path, pixels: torch.Tensor | None, batch_size: int, tolerance: float
) -> dict | None:
    """Write ``output``; with ``pixels``, only once onnxruntime agrees with PyTorch on them (else nothing is written)."""
    model = trained.model
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as staging:
        staged = Path(staging) / output.name
        export_onnx(model.net, model.hparams.mean, model.hparams.std, staged, tuple(model.hparams.input_shape))
        check = compare(trained, staged, pixels, batch_size) if pixels is not None else None
        if check and (check["differing_digits"] or check["largest_logit_difference"] > tolerance):
            raise ExportMismatch(
                f"onnxruntime disagrees with PyTorch on {check['differing_digits']} of {check['images']} test images "
                f"(largest logit difference {check['largest_logit_difference']:.2e} > {tolerance}); nothing written"
            )
        os.replace(staged, output)
    return check


def _require(package: str) -> ModuleType:
    """Import an optional dependency of the export, or say in one line how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(f"ONNX export needs the {package} package: {INSTALL}") from None
