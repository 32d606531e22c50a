"""The LightningModule: any classifier network on raw pixels, cross-entropy, per-epoch metrics; a self-contained checkpoint."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lenetlab.models.networks import MNIST_SHAPE
from lenetlab.models.safe_checkpoint import CheckpointError, check_trusted, read_checkpoint, target_name
from lenetlab.output import not_accepted

# a scheduler's length keys: left null in its config, they get the run's optimizer steps (stepped per batch)
RUN_LENGTH_KEYS = ("total_steps", "T_max")
FORMAT_KEY, CHECKPOINT_FORMAT = "lenetlab_format", 1  # what a checkpoint holds; another format is refused on load
PLAIN_DATA = (str, int, float, bool, type(None), list, tuple)


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


class ScheduleError(ValueError):
    """A scheduler setting that leaves a phase of the schedule empty over the run's optimizer steps."""


def build(config: Mapping[str, Any], *args: Any) -> Any:
    """The object a config with a ``_target_`` describes, made with ``args`` first (Hydra's instantiate).

    A config marked ``_partial_`` (an optimizer's, a scheduler's) is called here with ``args``.
    """
    from hydra.utils import instantiate  # only where a config is built: the module itself needs no Hydra

    return instantiate({**config, "_partial_": False}, *args)


def _fraction(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1


def _check_arguments(optimizer: Any, label_smoothing: float) -> None:
    """Refuse (ValueError naming the argument) an optimizer setting or a smoothing that torch would take badly."""
    if not _fraction(label_smoothing):
        raise not_accepted("label_smoothing", label_smoothing, "a number in [0, 1)")
    if not isinstance(optimizer, Mapping):  # an optimizer made by the caller checks its own arguments
        return
    lr, momentum = optimizer.get("lr"), optimizer.get("momentum", 0.0)
    if not (isinstance(lr, int | float) and not isinstance(lr, bool) and lr > 0):
        raise not_accepted("optimizer.lr", lr, "a positive number")
    if not _fraction(momentum):
        raise not_accepted("optimizer.momentum", momentum, "a number in [0, 1)")
    decay = optimizer.get("weight_decay", 0.0)
    if not (isinstance(decay, int | float) and not isinstance(decay, bool) and decay >= 0):
        raise not_accepted("optimizer.weight_decay", decay, "a number >= 0")
    for key in ("fused", "foreach"):
        if not (optimizer.get(key) is None or isinstance(optimizer.get(key), bool)):
            raise not_accepted(f"optimizer.{key}", optimizer.get(key), "null (torch's choice) | true | false")
    if optimizer.get("fused") and optimizer.get("foreach"):
        raise not_accepted(
            "optimizer.foreach", True, "false or null while optimizer.fused is true (one implementation)"
        )
    if optimizer.get("nesterov") and not momentum > 0:
        raise not_accepted("optimizer.nesterov", True, "false while optimizer.momentum is 0 (Nesterov needs momentum)")


def as_config(value: Any) -> Any:
    """``value`` as checkpoint data: a config as plain dicts, a ``functools.partial`` of a class or function with
    keyword arguments of plain data as the config that makes it; anything else (a module, a lambda) unchanged."""
    if isinstance(value, functools.partial):
        plain = not value.args and all(isinstance(v, PLAIN_DATA) for v in value.keywords.values())
        return {"_target_": target_name(value.func), "_partial_": True, **value.keywords} if plain else value
    if type(value).__module__.startswith("omegaconf."):  # a node of a composed config: resolved, as data
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


def log_epoch_values(trainer: L.Trainer, metrics: dict[str, torch.Tensor | float], epoch: int) -> None:
    """Write ``metrics`` of ``epoch`` to the trainer's loggers now, with the epoch (lenetlab's x-axis), and flush.

    For the values an epoch yields outside Lightning's aggregation over batches (its mean training loss, its
    timings). Lightning would write the training epoch's values only after that epoch's checkpoints; written
    here, every point of an epoch is on disk before its checkpoint, and a resumed run misses none.
    """
    values = {name: float(value) for name, value in metrics.items()}
    for logger in trainer.loggers:
        logger.log_metrics({**values, "epoch": epoch}, step=trainer.global_step)
        logger.save()


class Classifier(L.LightningModule):
    """Trains a classifier network with cross-entropy; logs one point per epoch.

    Every entry point (``forward``, the training, validation, test and predict steps, and the exported ONNX model)
    takes raw pixels in [0, 1], N x C x H x W; the model normalizes them with ``mean`` and ``std``, the training
    data's statistics, which ``fit`` takes from the datamodule (``MNISTDataModule.mean``) where they are not given.

    ``net`` is an ``nn.Module`` or a config with a ``_target_`` (as in ``lenetlab/conf/model``). ``optimizer`` is
    called with the parameters and ``scheduler`` with the optimizer: each a callable such as
    ``functools.partial(torch.optim.SGD, lr=0.1)`` or a config marked ``_partial_``. Configs and partials of plain
    arguments are kept in the checkpoint, so that ``Classifier.load_from_checkpoint(path)`` rebuilds the model;
    a model built from a module loads with ``load_from_checkpoint(path, net=...)``, as in Lightning.

    A scheduler whose length (``total_steps``, ``T_max``) is left null spans the run's optimizer steps and is
    stepped after every batch; any other is stepped after every epoch. ``label_smoothing`` applies to the training
    loss only (``val/loss`` is the plain cross-entropy). The training loss is summed on the device and checked
    for NaN/inf every ``finite_check_every`` steps and at the epoch's end (DivergedError).
    """

    def __init__(
        self,
        net: nn.Module | Mapping[str, Any],
        optimizer: Callable[..., torch.optim.Optimizer] | Mapping[str, Any],
        scheduler: Callable[..., Any] | Mapping[str, Any] | None = None,
        num_classes: int = 10,
        label_smoothing: float = 0.0,
        mean: float | None = None,
        std: float | None = None,
        input_shape: Sequence[int] | None = None,
        finite_check_every: int = 100,
    ):
        super().__init__()
        net, optimizer, scheduler = as_config(net), as_config(optimizer), as_config(scheduler)
        _check_arguments(optimizer, label_smoothing)
        self.net = net if isinstance(net, nn.Module) else build(net)
        input_shape = list(input_shape or getattr(self.net, "input_shape", MNIST_SHAPE))
        # what the model is, as data: a module or a callable that is no config is the caller's to pass on load
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler", "finite_check_every"], logger=False)
        parts = {"net": net, "optimizer": optimizer, "scheduler": scheduler}
        self.hparams.update({name: value for name, value in parts.items() if not callable(value)})
        self.optimizer, self.scheduler = optimizer, scheduler
        self.finite_check_every = finite_check_every
        self.label_smoothing = label_smoothing
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, trust: Iterable[str | Any] = (), **kwargs) -> Classifier:
        """Lightning's ``load_from_checkpoint``, once the file has been read as data and found safe to rebuild.

        The checkpoint's configs may name only trusted ``_target_``s (lenetlab's networks, ``torch.optim``'s
        optimizers and schedulers); ``trust`` adds classes or functions (or their dotted names), as
        ``lenetlab.models.trust`` does for the whole process. Anything else is refused (CheckpointError) before
        it is imported. Arguments given here (``net=...``) replace the checkpoint's and are not checked.
        """
        checkpoint = read_checkpoint(checkpoint_path)
        if (found := checkpoint.get(FORMAT_KEY)) != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"{checkpoint_path}: not a lenetlab checkpoint (no {FORMAT_KEY} in it)"
                if found is None
                else f"{checkpoint_path}: a lenetlab checkpoint of format {found!r}; this lenetlab reads format "
                f"{CHECKPOINT_FORMAT}"
            )
        hparams = {k: v for k, v in (checkpoint.get("hyper_parameters") or {}).items() if k not in kwargs}
        missing = [name for name in ("net", "optimizer") if name not in hparams and name not in kwargs]
        if missing:
            raise CheckpointError(
                f"{checkpoint_path}: this model was built from a {' and '.join(missing)} object, not a config; "
                f"pass {', '.join(f'{name}=...' for name in missing)} to load_from_checkpoint"
            )
        check_trusted(hparams, str(checkpoint_path), trust)
        check_trusted(checkpoint.get("datamodule_hyper_parameters"), str(checkpoint_path), trust, where="datamodule")
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[FORMAT_KEY] = CHECKPOINT_FORMAT

    def setup(self, stage: str) -> None:
        """When fitting, take the datamodule's normalization where none was given: the checkpoints then hold it."""
        datamodule = self.trainer.datamodule
        if stage == "fit" and self.hparams.mean is None and getattr(datamodule, "mean", None) is not None:
            self.hparams.update(mean=float(datamodule.mean), std=float(datamodule.std))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """The network's logits for raw pixels in [0, 1], normalized as the training data was."""
        if self.hparams.mean is not None:
            pixels = (pixels - self.hparams.mean) / self.hparams.std
        return self.net(pixels)

    def on_train_epoch_start(self) -> None:
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = torch.zeros((), device=self.device)
        self._checked_at = 0  # the batch count of the epoch's last finite check

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y, label_smoothing=self.label_smoothing)
        self._loss_sum.add_(loss.detach())  # summed on the device: no host sync per step
        self._loss_count.add_(1)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # a NaN or inf loss makes the running sum NaN or inf for the rest of the epoch
        done = batch_idx + 1
        if done - self._checked_at < self.finite_check_every and done < self.trainer.num_training_batches:
            return
        self._checked_at = done
        if not torch.isfinite(self._loss_sum):
            raise DivergedError(
                f"training loss is {self._loss_sum.item()} at epoch {self.current_epoch}, by step {done}"
            )

    def on_train_epoch_end(self) -> None:
        loss = self._loss_sum / self._loss_count.clamp(min=1)
        if not torch.isfinite(loss):
            raise DivergedError(f"training loss is {loss.item()} at the end of epoch {self.current_epoch}")
        self.log("train/loss", loss, logger=False)  # for callbacks (``trainer.callback_metrics``)
        log_epoch_values(self.trainer, {"train/loss": loss}, self.current_epoch)

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_acc.update(logits, y)
        self.log("val/loss", F.cross_entropy(logits, y), on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.val_acc.reset()
        self.log_dict({"val/acc": acc, "val/error": 1 - acc})

    def test_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        self.test_acc.update(self(x), y)

    def on_test_epoch_end(self) -> None:
        acc = self.test_acc.compute()
        self.test_acc.reset()
        self.log_dict({"test/acc": acc, "test/error": 1 - acc})

    def predict_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Class probabilities (N x classes) of a batch of raw pixels (or of ``(pixels, labels)``)."""
        pixels = batch[0] if isinstance(batch, list | tuple) else batch
        return F.softmax(self(pixels.to(self.device, self.dtype)), dim=1)

    def configure_optimizers(self):
        """The optimizer and its schedule (see the class's docstring for when the schedule is stepped)."""
        make = self.optimizer
        optimizer = make(self.parameters()) if callable(make) else build(make, self.parameters())
        config = self.scheduler
        if config is None:
            return optimizer
        if callable(config):
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": config(optimizer), "interval": "epoch"}}
        interval, steps = "epoch", None
        unset = [key for key in RUN_LENGTH_KEYS if key in config and config[key] is None]
        if unset:
            steps = max(1, int(self.trainer.estimated_stepping_batches))
            config, interval = {**config, **dict.fromkeys(unset, steps)}, "step"
        try:
            scheduler = build(config, optimizer)
        except Exception as error:  # Hydra's InstantiationException, caused by torch's error
            # OneCycleLR when pct_start x total_steps is exactly 1: an empty warm-up phase, divided by
            if not isinstance(error.__cause__ or error, ZeroDivisionError):
                raise
            raise ScheduleError(
                f"scheduler.pct_start={config.get('pct_start')!r} is not accepted over this run's {steps} optimizer "
                "steps: a phase of the schedule would be empty; change it, or the run's epochs or batches"
            ) from None
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
