"""Files that are replaced whole: a reader, or a process killed mid-write, sees the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On an error the temporary file is removed and ``path`` is left as it was. The new file gets the
    permissions a plain ``open`` would give it (temporary files are otherwise private to the owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_umask())
        except BaseException:
            os.unlink(f.name)
            raise
    os.replace(f.name, path)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_file(path) as f:
        f.write(text)
