"""lenetlab.data.images: the user's PNG, JPEG and IDX files as the MNIST-like pixels a model expects."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from lenetlab.data.idx import write_idx
from lenetlab.data.images import load_images

ACCEPTED = "expected a PNG or JPEG image, a folder of them, or an IDX image file"


@pytest.fixture(scope="module")
def test_digits(fake_mnist) -> np.ndarray:
    """The synthetic test split's images (uint8, N x 28 x 28), white on black like MNIST's."""
    from torchvision.datasets import MNIST

    return MNIST(fake_mnist, train=False).data.numpy()


def draw_l(colour="RGB", ink=(20, 20, 90), paper=(240, 235, 220)) -> Image.Image:
    """A dark "L" on light paper, 150 x 100: its centre of mass lies well off its bounding box's centre."""
    image = Image.new(colour, (100, 150), paper)
    pen = ImageDraw.Draw(image)
    pen.rectangle([20, 30, 33, 109], fill=ink)  # 80 rows tall
    pen.rectangle([20, 98, 80, 109], fill=ink)  # 61 columns wide
    return image


def ink_box(pixels: torch.Tensor) -> tuple[int, int]:
    rows, cols = torch.nonzero(pixels > 0, as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def centre_of_mass(pixels: torch.Tensor) -> tuple[float, float]:
    index = torch.arange(pixels.shape[0], dtype=torch.float32)
    return (
        float((pixels.sum(1) * index).sum() / pixels.sum()),
        float((pixels.sum(0) * index).sum() / pixels.sum()),
    )


def test_a_28x28_white_on_black_png_comes_back_exactly(test_digits, tmp_path):
    for i, digit in enumerate(test_digits[:20]):
        Image.fromarray(digit).save(tmp_path / f"{i}.png")
        names, pixels = load_images(tmp_path / f"{i}.png")
        assert names == [f"{i}.png"]
        assert pixels.dtype == torch.float32 and pixels.shape == (1, 1, 28, 28)
        assert torch.equal(pixels[0, 0], torch.from_numpy(digit).float() / 255)


def test_a_folder_gives_its_png_and_jpeg_files_sorted_by_name(test_digits, tmp_path):
    for name, digit in zip(["b.png", "a.PNG", "c.png"], test_digits, strict=False):
        Image.fromarray(digit).save(tmp_path / name, format="PNG")
    draw_l().save(tmp_path / "d.jpeg")
    (tmp_path / "labels.csv").write_text("a.PNG,3\n")
    (tmp_path / "more.png").mkdir()  # a subfolder, even one named like an image, is not read
    Image.fromarray(test_digits[3]).save(tmp_path / "more.png" / "e.png")

    names, pixels = load_images(tmp_path)

    assert names == ["a.PNG", "b.png", "c.png", "d.jpeg"]
    assert pixels.shape == (4, 1, 28, 28)
    assert torch.equal(pixels[0, 0], torch.from_numpy(test_digits[1]).float() / 255)
    assert torch.equal(pixels[1, 0], torch.from_numpy(test_digits[0]).float() / 255)


def test_an_idx_file_gives_its_images_as_torchvision_reads_them(fake_mnist, test_digits, tmp_path):
    idx = fake_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    names, pixels = load_images(idx)
    assert names[:2] == ["t10k-images-idx3-ubyte[0]", "t10k-images-idx3-ubyte[1]"] and len(names) == len(test_digits)
    assert torch.equal(pixels, torch.from_numpy(test_digits).unsqueeze(1) / 255)

    # one the test writes, under any name: recognised by its header
    write_idx(tmp_path / "mine.bin", test_digits[5:8])
    names, pixels = load_images(tmp_path / "mine.bin")
    assert names == ["mine.bin[0]", "mine.bin[1]", "mine.bin[2]"]
    assert torch.equal(pixels[:, 0], torch.from_numpy(test_digits[5:8]).float() / 255)


@pytest.mark.parametrize("lying", [False, True])
def test_a_dark_digit_on_light_paper_comes_back_white_on_black_in_a_20_pixel_box_centred_by_mass(lying, tmp_path):
    image = draw_l()
    (image.transpose(Image.Transpose.TRANSPOSE) if lying else image).save(tmp_path / "l.png")
    _, pixels = load_images(tmp_path / "l.png")
    digit = pixels[0, 0]
    assert pixels.shape == (1, 1, 28, 28)
    assert digit.min() == 0 and digit.max() == 1  # black paper, white ink at full strength
    # 80 x 61 scaled to a longer side of 20, aspect kept
    assert ink_box(digit) == ((15, 20) if lying else (20, 15))
    row, col = centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5  # MNIST's centre of mass, to a whole-pixel shift


def test_a_jpeg_photo_of_the_digit_gives_nearly_the_same_pixels(tmp_path):
    draw_l().save(tmp_path / "l.png")
    draw_l().save(tmp_path / "l.jpg", quality=85)
    _, png = load_images(tmp_path / "l.png")
    _, jpeg = load_images(tmp_path / "l.jpg")
    assert ink_box(jpeg[0, 0] > 0.1) == (20, 15)
    assert (png - jpeg).abs().mean() < 0.02


def test_transparent_and_16_bit_pngs_are_read_as_they_look(test_digits, tmp_path):
    draw_l("RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)).save(tmp_path / "transparent.png")
    draw_l("L", ink=0, paper=255).save(tmp_path / "opaque.png")
    assert torch.equal(load_images(tmp_path / "transparent.png")[1], load_images(tmp_path / "opaque.png")[1])

    Image.fromarray(test_digits[0].astype(np.uint16) * 257).save(tmp_path / "16bit.png")
    assert torch.equal(load_images(tmp_path / "16bit.png")[1][0, 0], torch.from_numpy(test_digits[0]).float() / 255)


def test_a_blank_image_stays_blank(tmp_path):
    Image.new("L", (40, 30), 255).save(tmp_path / "blank.png")
    assert torch.equal(load_images(tmp_path / "blank.png")[1], torch.zeros(1, 1, 28, 28))


def write_bad_input(kind: str, folder, digits: np.ndarray):
    """A path of each kind ``load_images`` refuses, and the words its error must hold."""
    if kind == "missing":
        return folder / "nothing.png", "no such file or folder"
    if kind == "not an image":
        (folder / "notes.png").write_text("not a picture\n")
        return folder / "notes.png", "not a PNG or JPEG image"
    if kind == "truncated":
        Image.fromarray(digits[0]).resize((280, 280)).save(folder / "cut.png")
        data = (folder / "cut.png").read_bytes()
        (folder / "cut.png").write_bytes(data[: len(data) // 2])
        return folder / "cut.png", "cannot be read"
    if kind == "gif":
        Image.fromarray(digits[0]).save(folder / "digit.gif")
        return folder / "digit.gif", "not a PNG or JPEG image"
    if kind == "empty folder":
        (folder / "empty").mkdir()
        return folder / "empty", "no .png, .jpg or .jpeg file in this folder"
    if kind == "folder without images":
        (folder / "texts").mkdir()
        (folder / "texts" / "readme.txt").write_text("hello\n")
        return folder / "texts", "no .png, .jpg or .jpeg file in this folder"
    if kind == "idx labels":
        write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8))
        return folder / "t10k-labels-idx1-ubyte", "magic number 2049, expected 2051"
    if kind == "truncated idx":
        write_idx(folder / "images-idx3-ubyte", digits[:3])
        data = (folder / "images-idx3-ubyte").read_bytes()
        (folder / "images-idx3-ubyte").write_bytes(data[:-100])
        return folder / "images-idx3-ubyte", "truncated"
    if kind == "idx of 32 x 32":
        write_idx(folder / "large-idx3-ubyte", np.zeros((2, 32, 32), np.uint8))
        return folder / "large-idx3-ubyte", "IDX images of shape (2, 32, 32); expected one or more of 28 x 28 pixels"
    raise AssertionError(kind)


BAD_INPUTS = ["missing", "not an image", "truncated", "gif", "empty folder", "folder without images", "idx labels"]


@pytest.mark.parametrize("kind", [*BAD_INPUTS, "truncated idx", "idx of 32 x 32"])
def test_a_path_without_readable_images_is_refused_in_one_line(kind, test_digits, tmp_path):
    path, words = write_bad_input(kind, tmp_path, test_digits)
    with pytest.raises(ValueError) as error:
        load_images(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and words in message
    assert ACCEPTED in message or kind == "idx of 32 x 32"


@pytest.mark.slow
def test_every_real_mnist_test_image_saved_as_png_comes_back_exactly(real_mnist, tmp_path):
    raw = real_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    names, pixels = load_images(raw)
    assert len(names) == 10_000
    for i, image in enumerate(pixels[:, 0]):
        Image.fromarray((image * 255).round().byte().numpy()).save(tmp_path / f"{i:05d}.png")
    assert torch.equal(load_images(tmp_path)[1], pixels)
