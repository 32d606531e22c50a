"""Files that are replaced whole: a reader, or a process killed mid-write, sees the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _new_file_mode(path: Path) -> int:
    """The mode of the file being replaced, or what ``open`` would give a new one under the umask."""
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mode & 0o7777
    with contextlib.suppress(OSError, StopIteration):  # Linux: the umask without changing it
        lines = Path("/proc/self/status").read_text().splitlines()
        return 0o666 & ~int(next(line.split()[1] for line in lines if line.startswith("Umask:")), 8)
    umask = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    On an error the temporary file is removed and ``path`` is left as it was. The new file keeps the
    replaced file's permissions, or gets those a plain ``open`` would give (temporary files are
    otherwise private to the owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), _new_file_mode(path))
            f.close()
            os.replace(f.name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f.name)
            raise


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_file(path) as f:
        f.write(text)
