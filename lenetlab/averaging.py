"""An exponential moving average of the weights, validated, checkpointed and tested as the model."""

from __future__ import annotations

from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn
from typing_extensions import override


class ExponentialMovingAverage(WeightAveraging):
    """Lightning's ``WeightAveraging`` with an EMA of ``decay`` per optimizer step.

    Validation (so the choice of ``best.ckpt``) sees the averaged weights, and checkpoints hold them as
    their ``state_dict``. Lightning's callback, when the same Trainer then tests a checkpoint, swaps the
    un-averaged weights back in; here the test scores the averaged weights that validation chose.
    """

    def __init__(self, decay: float = 0.999):
        if not 0 < decay < 1:
            raise ValueError(f"decay={decay}: expected a number in (0, 1)")
        super().__init__(multi_avg_fn=get_ema_multi_avg_fn(decay))
        self.decay = decay

    @override
    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        if trainer.testing:  # the module already holds the checkpoint's state_dict: the averaged weights
            return
        super().on_load_checkpoint(trainer, pl_module, checkpoint)
