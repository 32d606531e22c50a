"""Refuse bad configurations before any work, with one line naming key, value and what is accepted."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from omegaconf import DictConfig

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")


class ConfigError(ValueError):
    """A configuration value that lenetlab cannot run with."""


def _require(ok: bool, key: str, value, accepted: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is not accepted: expected {accepted}")


def _positive_ints(value) -> list:
    return [value] if isinstance(value, int | float | str) else list(value)


def validate(cfg: DictConfig) -> None:
    """Check the keys a user is likely to mistype; raise ConfigError on the first bad one."""
    lr = cfg.optimizer.get("lr")
    _require(isinstance(lr, int | float) and lr > 0, "optimizer.lr", lr, "a positive number")
    for key in ("batch_size", "eval_batch_size"):
        value = cfg.data.get(key)
        _require(isinstance(value, int) and value > 0, f"data.{key}", value, "a positive integer")

    model = cfg.model
    if "filters" in model:
        filters = _positive_ints(model.filters)
        ok = len(filters) > 0 and all(isinstance(f, int) and f > 0 for f in filters)
        _require(ok, "model.filters", model.filters, "a positive integer or a list of them")
        layers = 2 if isinstance(model.filters, int) else len(filters)
        smallest_map = model.get("image_size", 28) // 2 ** (layers - 1)
        k = model.get("kernel_size", 3)
        _require(
            isinstance(k, int) and k > 0 and k % 2 == 1 and k <= smallest_map,
            "model.kernel_size",
            k,
            f"an odd integer from 1 to {smallest_map} (the smallest feature map)",
        )

    epochs = cfg.trainer.get("max_epochs")
    _require(isinstance(epochs, int) and epochs >= 0, "trainer.max_epochs", epochs, "an integer >= 0")
    accelerator = cfg.trainer.get("accelerator")
    _require(accelerator in ACCELERATORS, "trainer.accelerator", accelerator, " | ".join(ACCELERATORS))
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accelerator}: no CUDA device visible; use cpu or auto")

    root = cfg.data.get("root")
    if root is not None and Path(root).exists() and not Path(root).is_dir():
        raise ConfigError(f"data.root={root!r} is a file: expected a directory holding MNIST/raw/")
    out = Path(cfg.output_dir)
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"output_dir={str(out)!r} cannot be written: {parent} is not writable")
