"""Faithful decoding (vision.images): what a viewer shows is what the model gets.

Each case is a file whose naive `Image.open(...).convert("RGB")` differs from what a
viewer shows (sideways, white, black background, inverted), built on the spot.
"""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vision.images import (ImageError, image_from_array, image_from_pil, image_from_tensor, load_image,
                           normalize)


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def naive(data: bytes) -> Image.Image:
    """What the loader did before: decode and convert, nothing else."""
    return Image.open(io.BytesIO(data)).convert("RGB")


def png_header(width: int, height: int) -> bytes:
    """A valid PNG that declares width x height (a decompression bomb if decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def test_exif_rotated_jpeg_decodes_upright(tmp_path):
    stored = Image.new("RGB", (64, 32), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 32, 32))  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the viewer turns the stored picture 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    stored.save(path, quality=95, exif=exif)
    im = load_image(path)
    assert im.size == (32, 64)  # portrait, as shown
    top, bottom = np.asarray(im)[4, 16], np.asarray(im)[60, 16]
    assert top[0] > 200 and top[2] < 60  # the stored left half is on top
    assert bottom[2] > 200 and bottom[0] < 60
    assert naive(path.read_bytes()).size == (64, 32)  # the old loader scored it sideways


def test_16bit_png_keeps_its_grey_levels():
    levels = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16).repeat(4, axis=0)
    data = encode(Image.fromarray(levels), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    got = np.asarray(load_image(data))[0, :, 0]
    assert got.tolist() == [0, 64, 128, 255]  # round(v * 255 / 65535)
    assert np.asarray(naive(data))[0, :, 0].tolist() == [0, 255, 255, 255]  # clipped to white before


def test_float_and_32bit_images_use_their_full_range():
    ramp = np.array([[0.0, 0.25, 0.5, 1.0]], dtype=np.float32).repeat(2, axis=0)
    assert np.asarray(normalize(Image.fromarray(ramp, "F")))[0, :, 0].tolist() == [0, 64, 128, 255]
    wide = np.array([[0, 1000, 65535]], dtype=np.int32).repeat(2, axis=0)
    assert np.asarray(normalize(Image.fromarray(wide, "I")))[0, :, 0].tolist() == [0, 4, 255]


@pytest.mark.parametrize("make", [
    lambda: Image.new("RGBA", (8, 8), (0, 0, 0, 0)),  # fully transparent black
    lambda: Image.new("LA", (8, 8), (0, 0)),
    lambda: _palette_with_transparency(),
], ids=["RGBA", "LA", "P+transparency"])
def test_transparent_png_composites_on_white(make):
    data = encode(make(), "PNG")
    assert np.asarray(load_image(data)).min() == 255
    assert np.asarray(naive(data)).max() == 0  # the old loader showed black


def _palette_with_transparency() -> Image.Image:
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.info["transparency"] = 0
    return im


def test_half_transparent_pixels_blend_with_white():
    data = encode(Image.new("RGBA", (4, 4), (255, 0, 0, 128)), "PNG")
    assert np.asarray(load_image(data))[0, 0].tolist() == [255, 127, 127]


def test_cmyk_jpeg_converts_to_rgb():
    cmyk = Image.new("CMYK", (16, 8), (0, 255, 255, 0))  # red
    cmyk.paste((255, 0, 0, 0), (8, 0, 16, 8))  # cyan
    im = load_image(encode(cmyk, "JPEG", quality=95))
    assert im.mode == "RGB"
    red, cyan = np.asarray(im)[4, 2].astype(int), np.asarray(im)[4, 13].astype(int)
    assert np.abs(red - [255, 0, 0]).max() < 12 and np.abs(cyan - [0, 255, 255]).max() < 12


def test_animated_gif_gives_its_first_frame():
    first = Image.new("RGBA", (8, 8), (255, 0, 0, 255))
    first.paste((0, 0, 0, 0), (0, 4, 8, 8))  # bottom half transparent
    frames = [first] + [Image.new("RGBA", (8, 8), c) for c in [(0, 255, 0, 255), (0, 0, 255, 255)]]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0,
                  disposal=2)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    got = np.asarray(load_image(data))
    assert got[0, 0].tolist() == [255, 0, 0] and got[7, 0].tolist() == [255, 255, 255]
    assert np.asarray(naive(data))[7, 0].tolist() != [255, 255, 255]


def test_grayscale_and_bilevel_become_rgb():
    assert load_image(encode(Image.new("L", (4, 4), 77), "PNG")).getpixel((0, 0)) == (77, 77, 77)
    assert load_image(encode(Image.new("1", (4, 4), 1), "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_bomb_header_is_refused_before_decoding():
    bomb = png_header(100_000, 100_000)
    with pytest.raises(ImageError, match=r"image is 10000\.0 MP.*refused before decoding"):
        load_image(bomb)
    # under Pillow's own limit, our cap decides from the header
    with pytest.raises(ImageError, match=r"image is 4000x3000 = 12\.0 MP, over the cap of 1\.0 MP"):
        load_image(png_header(4000, 3000), max_pixels=1_000_000)


def test_broken_bytes_are_clear_errors():
    good = encode(Image.new("RGB", (32, 32), (9, 9, 9)), "PNG")
    with pytest.raises(ImageError, match="image is corrupt or truncated"):
        load_image(good[: len(good) // 2])
    with pytest.raises(ImageError, match="is not a readable image file"):
        load_image(b"hello, not an image")
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        load_image(b"")


def test_arrays_and_tensors_give_the_pixels_they_hold():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    want = np.asarray(Image.fromarray(a))
    for given in (a, a / 255.0, (a / 255.0).astype(np.float32)):
        assert np.array_equal(np.asarray(image_from_array(given)), want)
    chw = torch.from_numpy(a.copy()).permute(2, 0, 1)
    assert np.array_equal(np.asarray(image_from_tensor(chw)), want)
    assert np.array_equal(np.asarray(image_from_tensor(chw.float() / 255)), want)
    half = np.asarray(image_from_tensor((chw.float() / 255).to(torch.bfloat16))).astype(int)
    assert np.abs(half - want).max() <= 1  # bfloat16 holds 8 significant bits
    gray = a[..., 0]
    assert np.array_equal(np.asarray(image_from_array(gray))[..., 1], gray)
    assert np.array_equal(np.asarray(image_from_tensor(torch.from_numpy(gray.copy())))[..., 2], gray)
    rgba = np.zeros((2, 2, 4), np.uint8)  # transparent: white, like a transparent file
    assert np.asarray(image_from_array(rgba)).min() == 255


@pytest.mark.parametrize("value, message", [
    (np.zeros((4, 4, 2), np.uint8), r"shape \(4, 4, 2\) is not an image"),
    (np.zeros((3, 8, 8), np.uint8), "looks channels-first"),
    (np.zeros((2, 4, 4, 3), np.uint8), "is not an image"),
    (np.zeros((0, 4, 3), np.uint8), "is empty"),
    (np.zeros((4, 4, 3), np.int64), "dtype int64 is not supported"),
    (np.zeros((4, 4, 3), bool), "dtype bool is not supported"),
    (np.full((4, 4, 3), 1.5), r"float values must lie in \[0, 1\], got min 1\.5, max 1\.5"),
    (np.full((4, 4, 3), np.nan), r"float values must lie in \[0, 1\]"),
])
def test_bad_arrays_are_clear_errors(value, message):
    with pytest.raises(ImageError, match=message):
        image_from_array(value, subject="image 1")


@pytest.mark.parametrize("value, message", [
    (torch.zeros(8, 8, 3), "looks channels-last"),
    (torch.zeros(2, 3, 8, 8), "is not an image"),
    (torch.full((3, 4, 4), -0.1), r"float values must lie in \[0, 1\]"),
    (torch.zeros(3, 4, 4, dtype=torch.int32), "dtype int32 is not supported"),
])
def test_bad_tensors_are_clear_errors(value, message):
    with pytest.raises(ImageError, match=message):
        image_from_tensor(value)


def test_a_lazily_opened_pil_image_is_capped_before_it_is_decoded():
    im = Image.open(io.BytesIO(png_header(4000, 3000)))
    with pytest.raises(ImageError, match="over the cap"):
        image_from_pil(im, max_pixels=1_000_000, subject="image 0")
