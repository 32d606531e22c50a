"""Lightning's checkpoints written as :mod:`lenetlab.output.atomic` writes files: the old one or the new one."""

from __future__ import annotations

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lenetlab.output.atomic import atomic_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file beside it, fsync, then rename over the old one.

    Lightning's own save stages the file in the system temp directory and *moves* it, which is a
    copy (not atomic) when that directory is on another file system; a kill then can leave half a file.
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        with atomic_file(path, "wb") as f:
            torch.save(checkpoint, f)
