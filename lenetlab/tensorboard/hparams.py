"""A run's values in TensorBoard's HParams tab, read off its config: the network's own keys, then how it is trained.

Each run writes only its values (``RunLogger.log_hyperparams``); TensorBoard's HParams tab builds its columns
from all the runs it shows and puts first those whose values differ, so a sweep's swept keys come first.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


def _name(node) -> str:
    return node._target_.rsplit(".", 1)[-1] if node else "none"


def _scalar(value):
    """A config value as one HParams value: a list of one repeated width (``[16, 16]``) is that width, another
    list its items joined (``300-100``), an empty list or null ``none``."""
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return value[0] if len(value) > 1 and len(set(map(repr, value))) == 1 else "-".join(map(str, value)) or "none"
    return value if isinstance(value, bool | int | float | str) else str(value)


def model_hparams(model: DictConfig) -> dict:
    """The network's own config keys (``width``, or the LeNet's ``filters``, ``kernel_size``...) and their values;
    Hydra's keys (``_target_``...) aside, nested keys dotted (``block.width``)."""

    def flat(node: dict, prefix: str) -> dict:
        values = {}
        for key, value in node.items():
            if isinstance(value, dict):
                values |= flat(value, f"{prefix}{key}.")
            elif not str(key).startswith("_"):
                values[f"{prefix}{key}"] = _scalar(value)
        return values

    return flat(OmegaConf.to_container(model, resolve=True), "")


def training_hparams(cfg: DictConfig) -> dict:
    """How the network is trained: the keys of :data:`TRAINING`, which every run records."""
    return {
        "optimizer": _name(cfg.optimizer),
        "lr": cfg.optimizer.lr,
        "momentum": cfg.optimizer.get("momentum", 0.0),
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": _name(cfg.get("scheduler")),
        "batch_size": cfg.data.batch_size,
        "augment": float(cfg.data.get("augment", 0.0)),
        "label_smoothing": cfg.get("label_smoothing", 0.0),
        "max_epochs": cfg.trainer.max_epochs,
        "accelerator": cfg.trainer.accelerator,
        "precision": str(cfg.trainer.get("precision", 32)),
        "seed": cfg.seed,
    }


TRAINING = ("optimizer", "lr", "momentum", "weight_decay", "scheduler", "batch_size", "augment", "label_smoothing")
TRAINING += ("max_epochs", "accelerator", "precision", "seed")  # the other hparams are the network's, and params


def config_hparams(cfg: DictConfig) -> dict:
    """The network's class and own keys, then how it is trained (optimizer, lr, batch size...): scalars and strings.

    A key of the network named as one of :data:`TRAINING` (or ``params``, ``status``) is recorded as
    ``model.<key>``. ``accelerator`` is the one asked for; a run replaces it with the device it got, and adds
    ``params``.
    """
    training = training_hparams(cfg)
    taken = {"model", "params", "status", *training}
    model = {f"model.{key}" if key in taken else key: value for key, value in model_hparams(cfg.model).items()}
    return {"model": _name(cfg.model), **model, **training}
