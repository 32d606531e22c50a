"""Whether Lightning's ``manual_backward`` would do more than ``loss.backward()`` in a run."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import Strategy
from lightning.pytorch.utilities.model_helpers import is_overridden

BACKWARD_HOOKS = ("on_before_backward", "on_after_backward")
BACKWARD_STEPS = ("pre_backward", "backward", "post_backward")  # what a strategy or precision may add to it


def _adds_to_backward(part: object, base: type) -> bool:
    return any(is_overridden(step, part, base) for step in BACKWARD_STEPS)


def backward_is_plain(trainer: L.Trainer, module: L.LightningModule) -> bool:
    """True where ``manual_backward(loss)`` comes down to ``loss.backward()``: a strategy and precision that add
    nothing to it (no loss scaling, no gradient sync), no ``backward`` override and no backward hook on the module
    or a callback. Lightning then spends its hook calls (about a tenth of a millisecond a batch) on nothing (so a
    ``trainer.profiler`` report lists no backward hooks: the step it profiles is the one that runs unprofiled)."""
    precision = trainer.precision_plugin
    if isinstance(precision, MixedPrecision):  # bf16 needs no scaler; its pre_backward then only calls the hooks
        scales = precision.scaler is not None or _adds_to_backward(precision, MixedPrecision)
    else:
        scales = _adds_to_backward(precision, Precision)
    hooked = any(is_overridden(hook, module, L.LightningModule) for hook in (*BACKWARD_HOOKS, "backward"))
    hooked |= any(is_overridden(hook, c, L.Callback) for c in trainer.callbacks for hook in BACKWARD_HOOKS)
    return not (scales or hooked or _adds_to_backward(trainer.strategy, Strategy))
