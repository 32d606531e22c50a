"""The LightningModule: any classifier network, cross-entropy, per-epoch curves; a self-contained checkpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torchmetrics.classification import MulticlassAccuracy

# a scheduler's length keys: left null in its config, they get the run's optimizer steps (stepped per batch)
RUN_LENGTH_KEYS = ("total_steps", "T_max")
MNIST_SHAPE = (1, 28, 28)  # the input shape of a network that does not state its own (``input_shape``)


def compile_mode(compile: bool | str) -> str | None:
    """The ``torch.compile`` mode that the ``compile`` setting asks for, or None for eager."""
    if compile is True:
        return "default"
    return compile or None


def channels_last_for(setting: bool | str, device_type: str) -> bool:
    """Whether to train in NHWC: ``auto`` where it was measured faster, the CPU (oneDNN's pooling)."""
    return device_type == "cpu" if setting == "auto" else bool(setting)


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


class CheckpointError(ValueError):
    """A file that ``Classifier`` cannot be loaded from, with what to do instead."""


def build(config: Mapping[str, Any], *args: Any) -> Any:
    """The object a config with a ``_target_`` describes, made with ``args`` first (Hydra's instantiate).

    A config marked ``_partial_`` (an optimizer's, a scheduler's) is called here with ``args``.
    """
    return instantiate({**config, "_partial_": False}, *args)


def plain(config: Any) -> Any:
    """A config as plain dicts and lists (an OmegaConf node resolved), which a checkpoint stores as data."""
    return OmegaConf.to_container(config, resolve=True) if OmegaConf.is_config(config) else config


def log_per_epoch(module: L.LightningModule, metrics: dict[str, torch.Tensor | float]) -> None:
    """Log epoch-level values with the epoch, not the global step, as TensorBoard's x-axis."""
    # a logged "step" is what Lightning uses as the x-axis (and then it adds no "epoch" tag)
    module.log_dict({**metrics, "step": float(module.current_epoch)}, on_step=False, on_epoch=True)


def write_at_train_epoch_end(module: L.LightningModule, metrics: dict[str, torch.Tensor | float]) -> None:
    """Write a training epoch's end values to the loggers at once, with the epoch as x-axis, and save them.

    Lightning would write them only after the epoch's checkpoints; a run killed in between would resume
    after that epoch with its points missing. They also go to ``trainer.callback_metrics`` (for callbacks).
    """
    module.log_dict(metrics, on_step=False, on_epoch=True, logger=False)
    values = {name: float(value) for name, value in metrics.items()}
    for logger in module.loggers:
        logger.log_metrics(values, step=module.current_epoch)
        logger.save()


class Classifier(L.LightningModule):
    """Trains the network ``net`` describes with cross-entropy; logs one point per epoch, with the epoch as x-axis.

    ``net``, ``optimizer`` and ``scheduler`` are configs with a ``_target_`` (as in ``lenetlab/conf``),
    kept as plain data in the checkpoint's hyperparameters with the rest of the arguments, so that
    ``Classifier.load_from_checkpoint(path)`` rebuilds the trained model. The optimizer is called with
    the parameters, the scheduler with the optimizer. ``mean`` and ``std`` are the normalization of the
    training data (taken from the datamodule when fitting starts) and ``input_shape`` the image shape
    (the network's ``input_shape``, else MNIST's): with them, :meth:`predict_step` classifies raw pixels.

    The training step has no host sync (so it compiles into one graph): its losses are summed on the
    device, and that sum is checked for NaN/inf every ``finite_check_every`` steps and after the epoch's
    last batch, which stops a diverged run within its epoch, before its validation and checkpoints.
    ``channels_last`` stores the convolution weights (and so the activations) as NHWC, which oneDNN's
    pooling and convolutions run faster on; ``compile`` (true, or a ``torch.compile`` mode such as
    ``"reduce-overhead"``: CUDA graphs on a GPU) compiles the network in place (its weights keep their
    names). ``label_smoothing`` applies to the training loss only: ``val/loss`` stays the plain
    cross-entropy, comparable between runs.
    """

    def __init__(
        self,
        net: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        num_classes: int = 10,
        finite_check_every: int = 100,
        compile: bool | str = False,
        channels_last: bool = False,
        label_smoothing: float = 0.0,
        mean: float | None = None,
        std: float | None = None,
        input_shape: Sequence[int] | None = None,
    ):
        super().__init__()
        net, optimizer, scheduler = plain(net), plain(optimizer), plain(scheduler)
        network = build(net)
        input_shape = list(input_shape or getattr(network, "input_shape", MNIST_SHAPE))
        # logger=False: the run logs its own HParams entry (lenetlab.tensorboard.hparams), not these configs
        self.save_hyperparameters(logger=False)
        if channels_last:
            network = network.to(memory_format=torch.channels_last)
        if mode := compile_mode(compile):
            network.compile(mode=mode)  # in place: the state_dict keeps its names
        self.net = network
        self.finite_check_every = finite_check_every
        self.label_smoothing = label_smoothing
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, *args, **kwargs) -> Classifier:
        """Lightning's ``load_from_checkpoint``; a checkpoint without the model's config is refused in one line."""
        if isinstance(checkpoint_path, str | Path) and "net" not in kwargs:
            hparams = torch.load(checkpoint_path, map_location="cpu", weights_only=True, mmap=True).get(
                "hyper_parameters"
            )
            if not hparams or "net" not in hparams:
                run = Path(checkpoint_path).resolve().parent.parent
                raise CheckpointError(
                    f"{checkpoint_path}: this checkpoint does not hold its model's config (written by an older "
                    f"lenetlab or another program); evaluate it with: python -m lenetlab.evaluate checkpoint={run}"
                )
        return super().load_from_checkpoint(checkpoint_path, *args, **kwargs)

    def setup(self, stage: str) -> None:
        """When fitting, record the datamodule's normalization: the checkpoints then classify raw pixels."""
        datamodule = self.trainer.datamodule
        if stage == "fit" and getattr(datamodule, "mean", None) is not None:
            self.hparams.update(mean=float(datamodule.mean), std=float(datamodule.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def on_train_epoch_start(self) -> None:
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = torch.zeros((), device=self.device)
        self._checked_at = 0  # the batch count of the epoch's last finite check

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """A batch's training loss, also added to the epoch's sum on the device (no host sync: one graph)."""
        loss = F.cross_entropy(self(x), y, label_smoothing=self.label_smoothing)
        self._loss_sum.add_(loss.detach())  # in place: no nn.Module.__setattr__ per step
        self._loss_count.add_(1)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.training_loss(x, y)

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
        write_at_train_epoch_end(self, {"train/loss": loss})

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.val_acc.update(logits, y)
        log_per_epoch(self, {"val/loss": F.cross_entropy(logits, y)})

    def on_validation_epoch_end(self) -> None:
        acc = self.val_acc.compute()
        self.val_acc.reset()
        log_per_epoch(self, {"val/acc": acc, "val/error": 1 - acc})

    def test_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        self.test_acc.update(self(x), y)

    def on_test_epoch_end(self) -> None:
        acc = self.test_acc.compute()
        self.test_acc.reset()
        log_per_epoch(self, {"test/acc": acc, "test/error": 1 - acc})

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw pixels in [0, 1] (white digit on black) -> the network's input, as the training data was."""
        if self.hparams.mean is None:
            raise CheckpointError(
                "this model has no normalization (mean, std): train it with a datamodule that has one"
            )
        return (pixels - self.hparams.mean) / self.hparams.std

    def predict_step(self, batch, batch_idx: int = 0) -> torch.Tensor:
        """Class probabilities (N x classes) of a batch of raw pixels in [0, 1] (or of ``(pixels, labels)``)."""
        pixels = batch[0] if isinstance(batch, list | tuple) else batch
        return F.softmax(self(self.normalize(pixels.to(self.device, self.dtype))), dim=1)

    def configure_optimizers(self):
        """The optimizer and its schedule, stepped after every epoch; a schedule whose length
        (``total_steps``, ``T_max``) is left null spans the run's optimizer steps and is stepped after every batch."""
        optimizer = build(self.hparams.optimizer, self.parameters())
        config = self.hparams.scheduler
        if config is None:
            return optimizer
        interval, steps = "epoch", None
        unset = [key for key in RUN_LENGTH_KEYS if key in config and config[key] is None]
        if unset:
            steps = max(1, int(self.trainer.estimated_stepping_batches))
            config, interval = {**config, **dict.fromkeys(unset, steps)}, "step"
        try:
            scheduler = build(config, optimizer)
        except ZeroDivisionError:  # OneCycleLR when pct_start x total_steps is exactly 1: an empty warm-up phase
            raise ValueError(
                f"scheduler: its phases are empty over this run's {steps} optimizer steps; "
                "change scheduler.pct_start or the number of epochs or batches"
            ) from None
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
