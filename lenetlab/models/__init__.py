"""The model core: networks, the LightningModule and its callbacks (torch and Lightning; no TensorBoard, no Hydra
beyond ``hydra.utils.instantiate``). A config's ``_target_: lenetlab.models.LeNet`` names a network here."""

from typing import TYPE_CHECKING

from lenetlab.models.networks import MLP, LeNet, StridedNet, count_parameters, parameter_table
from lenetlab.models.safe_checkpoint import CheckpointError, trust

if TYPE_CHECKING:
    from lenetlab.models.classifier import Classifier

__all__ = [
    "MLP",
    "CheckpointError",
    "Classifier",
    "LeNet",
    "StridedNet",
    "count_parameters",
    "parameter_table",
    "trust",
]


def __getattr__(name: str):
    # the LightningModule on first use: the networks alone (a plain loop, a parameter count) need no Lightning
    if name == "Classifier":
        from lenetlab.models.classifier import Classifier

        return Classifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
