"""What a command refuses in one line (exit status 2) rather than with a traceback: a setting, a file, a checkpoint."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from lenetlab.config import ConfigError, refuse
from lenetlab.data.idx import IdxFormatError
from lenetlab.data.mnist import DataNotFoundError
from lenetlab.models.safe_checkpoint import CheckpointError

BAD_INPUT = (ConfigError, IdxFormatError, DataNotFoundError, CheckpointError)


@contextlib.contextmanager
def refusing_bad_input() -> Iterator[None]:
    """Turn bad input (a setting, a file, a checkpoint) into one line on stderr and exit status 2."""
    try:
        yield
    except BAD_INPUT as error:
        refuse(error)
