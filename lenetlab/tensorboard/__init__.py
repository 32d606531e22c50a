"""TensorBoard writing (the run's logger, the HParams tab) and the tags of the logged metrics.

The tags are chosen so that TensorBoard's time-series page opens on the learning curves.

TensorBoard groups the cards by a tag's first part (``epoch/val_error`` -> ``epoch``), sorts the groups by name
and opens the first two. The curves over the epochs are written under ``epoch/``, so they come before the single
points of the test (``test/``) and the timings (``time/``). Everywhere else (the checkpoint's ``monitor``, a search's
pruner, ``status.json``, the report) a metric keeps the name the model logs it under, such as ``val/error``.
"""

from __future__ import annotations

# metric -> TensorBoard tag; a metric not listed keeps its name as its tag
TAGS = {
    "val/error": "epoch/val_error",
    "val/acc": "epoch/val_acc",
    "val/loss": "epoch/val_loss",
    "train/loss": "epoch/train_loss",
}
_METRICS = {tag: metric for metric, tag in TAGS.items()}


def tensorboard_tag(metric: str) -> str:
    """The tag ``metric`` is written under in TensorBoard."""
    return TAGS.get(metric, metric)


def metric_name(tag: str) -> str:
    """The metric a TensorBoard tag holds (``epoch/val_error`` -> ``val/error``)."""
    return _METRICS.get(tag, tag)
