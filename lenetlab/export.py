"""``python -m lenetlab.export checkpoint=PATH``: the model as ONNX, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from lenetlab.config import ConfigError, refuse
from lenetlab.config.overrides import checks_command_line
from lenetlab.data.mnist import load_mnist
from lenetlab.models.classifier import CheckpointError
from lenetlab.run.checkpoints import Trained, data_root_for, find_checkpoints, load_models, refusing_bad_input
from lenetlab.run.onnx_export import export_onnx, onnx_logits


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


def export(trained: Trained, output: Path, pixels: torch.Tensor | None, cfg: DictConfig) -> dict | None:
    """Write ``output``; with ``pixels``, only once onnxruntime agrees with PyTorch on them (else nothing is written)."""
    model = trained.model
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as staging:
        staged = Path(staging) / output.name
        export_onnx(model.net, model.hparams.mean, model.hparams.std, staged, tuple(model.hparams.input_shape))
        check = compare(trained, staged, pixels, cfg.batch_size) if pixels is not None else None
        if check and (check["differing_digits"] or check["largest_logit_difference"] > cfg.tolerance):
            raise ExportMismatch(
                f"onnxruntime disagrees with PyTorch on {check['differing_digits']} of {check['images']} test images "
                f"(largest logit difference {check['largest_logit_difference']:.2e} > {cfg.tolerance}); "
                f"nothing written"
            )
        os.replace(staged, output)
    return check


@checks_command_line("export")
@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    """Hydra entry point: the model and the test images are read (and bad input refused) before anything is written."""
    with refusing_bad_input():
        if not cfg.checkpoint:
            raise ConfigError("checkpoint=PATH is required: a .ckpt file or a run directory")
        checkpoints = find_checkpoints(cfg.checkpoint)
        if len(checkpoints) > 1:
            raise CheckpointError(
                f"checkpoint={cfg.checkpoint}: a sweep of {len(checkpoints)} models; name one run or .ckpt file"
            )
        (trained,) = load_models(checkpoints, cfg)
        if cfg.trainer.accelerator not in ("auto", "cpu"):
            raise ConfigError(f"trainer.accelerator={cfg.trainer.accelerator}: export runs on the CPU; use cpu or auto")
        pixels = mnist_test_pixels(data_root_for(trained, cfg.data.root)) if cfg.check else None
    output = Path(cfg.output) if cfg.output else trained.path.with_suffix(".onnx")
    try:
        check = export(trained, output, pixels, cfg)
    except ImportError as error:  # an optional package of the export extra is not installed
        refuse(error)
    except ExportMismatch as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    line = f"{trained.path} -> {output}"
    if check:
        line += (
            f": onnxruntime gives the same digits as PyTorch on {check['images']} test images, "
            f"logits within {check['largest_logit_difference']:.1e}"
        )
    print(line)


if __name__ == "__main__":
    main()
