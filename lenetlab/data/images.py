"""A user's images as MNIST-like tensors: PNG or JPEG files, a folder of them, or an IDX image file.

Images are converted the way MNIST was made. Each is made grayscale; one of 28 x 28 pixels whose border is
darker than the image as a whole (a white digit on black, like MNIST's) is then used as it is. Any other is
inverted if its border is the brighter part (a dark digit on light paper), cropped to the digit, scaled
with anti-aliasing so that its longer side is 20 pixels, and placed in a black 28 x 28 field with its
centre of mass at the centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from lenetlab.data.idx import IMAGES_MAGIC, IdxFormatError, read_idx

SIDE = 28  # MNIST's field
DIGIT_BOX = 20  # the longer side of an MNIST digit's bounding box
# MNIST's digits have their centre of mass at row and column 14.0 on average (pixel centres at 0..27),
# half a pixel past the field's geometric centre: placing ours there matches what the network saw.
CENTRE_OF_MASS = 14.0
# Ink fainter than this fraction of the darkest stroke (JPEG ringing, paper texture) does not widen the crop.
INK_THRESHOLD = 0.2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IDX_PREFIX = b"\x00\x00\x08"  # an IDX file of unsigned bytes: two zero bytes, then the type code 0x08
ACCEPTED = "expected a PNG or JPEG image, a folder of them, or an IDX image file such as t10k-images-idx3-ubyte"


def load_images(path: str | Path) -> tuple[list[str], torch.Tensor]:
    """Names and pixels (float32, N x 1 x 28 x 28, in [0, 1], white digit on black) of the images at ``path``.

    ``path`` is a PNG or JPEG file, a folder (its ``*.png``, ``*.jpg`` and ``*.jpeg`` files sorted by name;
    other files and subfolders are ignored), or an IDX image file, whose images come back unconverted and
    are named ``file[i]``. Raises ``ValueError`` in one line for a path that holds none of these.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"{path}: no .png, .jpg or .jpeg file in this folder; {ACCEPTED}")
        return [p.name for p in files], torch.stack([_read_image(p) for p in files])
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder; {ACCEPTED}")
    try:
        is_idx = _starts_with(path, IDX_PREFIX)
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror}); {ACCEPTED}") from None
    if is_idx:
        images = _read_idx_images(path)
        return [f"{path.name}[{i}]" for i in range(len(images))], images
    return [path.name], _read_image(path)[None]


def _read_idx_images(path: Path) -> torch.Tensor:
    """The 28 x 28 images of an IDX file as they are, divided by 255 (what torchvision's MNIST gives)."""
    try:
        images = read_idx(path, IMAGES_MAGIC)
    except IdxFormatError as error:
        raise ValueError(f"{error}; {ACCEPTED}") from None
    if images.shape[0] == 0 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"{path}: IDX images of shape {images.shape}; expected one or more of {SIDE} x {SIDE} pixels")
    return torch.from_numpy(images).unsqueeze(1).float().div(255)


def _read_image(path: Path) -> torch.Tensor:
    """A PNG or JPEG file as a 1 x 28 x 28 MNIST-like tensor (see ``mnist_like``)."""
    try:
        with Image.open(path, formats=["PNG", "JPEG"]) as image:
            gray = _grayscale(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not a PNG or JPEG image; {ACCEPTED}") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:  # Pillow's errors for a damaged file
        raise ValueError(f"{path}: cannot be read ({error}); {ACCEPTED}") from None
    return mnist_like(torch.from_numpy(gray))[None]


def _grayscale(image: Image.Image) -> np.ndarray:
    """8-bit luminance; a transparent image is first laid on white, as a viewer shows it."""
    if image.mode in ("I", "I;16", "I;16B"):  # 16-bit grayscale PNG, which convert("L") would clip
        return (np.array(image, dtype=np.float64) / 257).round().astype(np.uint8)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.array(image.convert("L"))


def mnist_like(gray: torch.Tensor) -> torch.Tensor:
    """A uint8 H x W grayscale image as 28 x 28 float pixels in [0, 1], white digit on black (module docstring)."""
    pixels = gray.float().div(255)  # exactly torchvision's ToTensor
    border = torch.cat([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    dark_on_light = border.mean() > pixels.mean()
    if pixels.shape == (SIDE, SIDE) and not dark_on_light:
        return pixels
    if dark_on_light:
        pixels, border = 1 - pixels, 1 - border
    ink = (pixels - border.median()).clamp(min=0)
    if ink.max() == 0:  # a blank page stays blank
        return torch.zeros(SIDE, SIDE)
    ink /= ink.max()
    return _centred(_scaled(_cropped(ink)))


def _cropped(ink: torch.Tensor) -> torch.Tensor:
    """The bounding box of the pixels holding ink."""
    rows, cols = torch.nonzero(ink >= INK_THRESHOLD, as_tuple=True)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _scaled(digit: torch.Tensor) -> torch.Tensor:
    """``digit`` resized, keeping its aspect ratio, so that its longer side is 20 pixels (anti-aliased)."""
    height, width = digit.shape
    factor = DIGIT_BOX / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    resized = F.interpolate(digit[None, None], size=size, mode="bilinear", antialias=True)[0, 0]
    return resized.clamp(0, 1)  # rounding can take the darkest pixel a hair past 1


def _centred(digit: torch.Tensor) -> torch.Tensor:
    """``digit`` in a 28 x 28 black field, shifted by whole pixels to put its centre of mass at the centre."""
    field = torch.zeros(SIDE, SIDE)
    corner = []
    for axis, length in enumerate(digit.shape):
        mass = digit.sum(dim=1 - axis)  # the ink of each row (axis 0) or column (axis 1)
        centre = float((mass * torch.arange(length)).sum() / mass.sum())
        corner.append(min(max(round(CENTRE_OF_MASS - centre), 0), SIDE - length))
    top, left = corner
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return field


def _starts_with(path: Path, prefix: bytes) -> bool:
    with path.open("rb") as f:
        return f.read(len(prefix)) == prefix
