"""The run's TensorBoard logger: one event file per run, holding curves, HParams and test results."""

from __future__ import annotations

from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.plugins.hparams.summary_v2 import hparams_pb

from lenetlab.tensorboard import tensorboard_tag


class RunLogger(TensorBoardLogger):
    """Lightning's TensorBoard logger, kept open from fit through test until ``close()``.

    Lightning finalizes its loggers after ``fit`` and again after ``test``; closing the writer there
    would start a new event file for the test results. Metrics are written under their TensorBoard tags
    (``val/error`` as ``epoch/val_error``, see ``lenetlab.tensorboard``), with the epoch as their step.
    Hyperparameters go to the HParams tab only (no placeholder metric, no ``hparams.yaml``: the config is
    in ``.hydra/``), each run its own row.
    """

    def log_metrics(self, metrics, step=None) -> None:
        # Lightning adds the epoch to every epoch-level write: it is the x-axis here, not a curve of its own
        metrics = dict(metrics)
        if "epoch" in metrics:
            step = int(metrics.pop("epoch"))
        super().log_metrics({tensorboard_tag(name): value for name, value in metrics.items()}, step)

    def log_hyperparams(self, params, metrics=None, step=None) -> None:
        if metrics:
            self.log_metrics(metrics, step)
        if params:  # Lightning logs the module's (empty) saved hyperparameters at the start of fit
            # an empty trial id (TensorBoard's session group) makes each run a row of its own, named by its directory
            self.experiment.file_writer.add_summary(hparams_pb(dict(params), trial_id=""))

    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.experiment.flush()

    def save(self) -> None:  # Lightning calls it after each write: flush, so a killed run loses no point
        if self._experiment is not None:
            self.experiment.flush()

    def close(self) -> None:
        """Flush and close the event file (the end of the run)."""
        if self._experiment is not None:
            self.experiment.close()
