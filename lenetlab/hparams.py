"""The hyperparameters a run shows in TensorBoard's HParams tab, read off its config (no torch import)."""

from __future__ import annotations

from omegaconf import DictConfig


def _name(node) -> str:
    return node._target_.rsplit(".", 1)[-1] if node else "none"


def config_hparams(cfg: DictConfig) -> dict:
    """Model, filters, kernel size, optimizer, lr, batch size... as scalars and strings.

    ``accelerator`` is the one asked for; a run replaces it with the device it got, and adds ``params``.
    """
    filters = cfg.model.get("filters")
    widths = [filters] if isinstance(filters, int) else list(filters or [])
    return {
        "model": _name(cfg.model),
        "filters": (widths[0] if len(set(widths)) == 1 else "-".join(map(str, widths))) if widths else 0,
        "kernel_size": cfg.model.get("kernel_size", 0),
        "hidden": "-".join(map(str, cfg.model.get("hidden") or [])) or "none",
        "optimizer": _name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "momentum": cfg.optimizer.get("momentum", 0.0),
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": _name(cfg.get("scheduler")),
        "batch_size": cfg.data.batch_size,
        "augment": float(cfg.data.get("augment", 0.0)),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "dropout": cfg.model.get("dropout", 0.0),
        "max_epochs": cfg.trainer.max_epochs,
        "accelerator": cfg.trainer.accelerator,
        "precision": str(cfg.trainer.get("precision", 32)),
        "seed": cfg.seed,
    }
