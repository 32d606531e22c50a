"""Check and write IDX files, the format MNIST ships in."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 2051  # unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # unsigned byte, 1 dimension


class IdxFormatError(ValueError):
    """An IDX file whose header or size is not what MNIST's format promises."""


def check_idx_file(path: Path, magic: int) -> tuple[int, ...]:
    """Return the dimensions of a uint8 IDX file after checking its magic number and size."""
    path = Path(path)
    size = path.stat().st_size
    ndim = magic - 2048
    header_size = 4 + 4 * ndim
    with path.open("rb") as f:
        header = f.read(header_size)
    # the magic number first: a small file of another kind is named for what it is, not as "too short"
    if len(header) >= 4 and (found := struct.unpack(">i", header[:4])[0]) != magic:
        raise IdxFormatError(f"{path}: magic number {found}, expected {magic}")
    if len(header) < header_size:
        raise IdxFormatError(f"{path}: {size} bytes, too short for an IDX header of {header_size} bytes")
    dims = struct.unpack(f">{ndim}i", header[4:])
    expected = header_size + int(np.prod(dims))
    if size != expected:
        raise IdxFormatError(f"{path}: {size} bytes, expected {expected} for shape {dims} (truncated or corrupt)")
    return dims


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array (images N x H x W, or labels N) as an IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with Path(path).open("wb") as f:
        f.write(struct.pack(">i", 2048 + array.ndim))
        f.write(struct.pack(f">{array.ndim}i", *array.shape))
        f.write(array.tobytes())


def read_idx(path: Path, magic: int) -> np.ndarray:
    """A uint8 IDX file's contents, shaped by its header, after ``check_idx_file``."""
    dims = check_idx_file(path, magic)
    return np.fromfile(path, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
