"""Silence, each at its source, the messages of Lightning and submitit that a user cannot act on.

Lightning's notices (devices found, checkpoint restored) go to the run's log file, not the terminal
(``hydra.job_logging`` in lenetlab/conf/train.yaml); what is silenced here is dropped by message and module.
"""

from __future__ import annotations

import logging
import re
import warnings

from hydra.experimental.callback import Callback

# (message, module that warns): warnings about things lenetlab does on purpose
WARNINGS = (
    # torch deprecates LeafSpec; Lightning's own code still checks for it
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", "lightning.pytorch.utilities._pytree"),
    # nothing is logged per step, so the logging interval does not matter
    (
        r"The number of training batches \(\d+\) is smaller than the logging interval",
        "lightning.pytorch.loops.fit_loop",
    ),
    # a resumed run continues in its own checkpoint directory; a fresh run never gets a used one (check_output_dir)
    (r"Checkpoint directory .* exists and is not empty", "lightning.pytorch.callbacks.model_checkpoint"),
    # on a machine with SLURM installed: each run uses one device, and submitit_slurm runs jobs with srun
    (r"The `srun` command is available on your system but is not used", "lightning.fabric.plugins.environments.slurm"),
)
# (logger, message pattern): log records dropped
LOG_RECORDS = (
    ("lightning.pytorch.utilities.rank_zero", r"💡 Tip: "),  # an advertisement
    # clusters without SLURM accounting: submitit falls back to the job's own files
    ("submitit", r"Call #\d+ - Bypassing sacct error"),
)


class DropRecords(logging.Filter):
    """Drops the records of one logger whose message matches ``pattern``."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def quiet() -> None:
    """Install the warning filters and log-record filters above (idempotent)."""
    for message, module in WARNINGS:
        warnings.filterwarnings("ignore", message=message, module=re.escape(module))
    for name, pattern in LOG_RECORDS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropRecords) and f.pattern.pattern == pattern for f in logger.filters):
            logger.addFilter(DropRecords(pattern))


class Quiet(Callback):
    """Hydra callback: :func:`quiet` in the launching process and in every job's process."""

    def on_run_start(self, config, **kwargs) -> None:
        quiet()

    def on_multirun_start(self, config, **kwargs) -> None:
        quiet()

    def on_job_start(self, config, **kwargs) -> None:
        quiet()
