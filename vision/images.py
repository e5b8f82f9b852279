"""The one image loader: any image a user can give -> an upright 8-bit RGB PIL image.

Used by every path into the reward models (CLI, Python API, app, service), so the
same picture gives the same pixels whatever form it arrives in:

- encoded files or bytes (`load_image`): the pixel cap is checked from the header,
  before any pixel is decoded; then a full decode (truncation is an error);
- PIL images (`normalize`), numpy arrays (`image_from_array`) and torch tensors
  (`image_from_tensor`) given in memory.

What "faithful" means here (`normalize`):
- EXIF orientation is applied (phone photos come out upright);
- 16-bit (`I;16*`), 32-bit integer (`I`) and float (`F`) images are scaled to 8 bits
  by their full range (`_full_scale`), not clipped;
- transparency (RGBA, LA, PA, palette or colour-key transparency) is composited on
  `BACKGROUND` (white);
- an animated file (GIF, APNG, WebP) gives its first frame;
- CMYK goes through its embedded ICC profile when it has one, else Pillow's
  (255 - C)(255 - K) / 255 formula; grayscale, bilevel and the rest become RGB.
"""
from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, UnidentifiedImageError

# A truncated JPEG must be an error, not a silently grey-padded image.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DEFAULT_MAX_IMAGE_PIXELS = 64_000_000
BACKGROUND = (255, 255, 255)  # transparent pixels are composited on white
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


class ImageError(ValueError):
    """An image that cannot be used: missing, not an image, truncated, too large, or an
    array/tensor of the wrong shape, dtype or range. The message starts with the subject
    it was given (e.g. "image 'a.png'"), so callers can prefix where it came from."""


def load_image(source: str | Path | bytes, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
               name: str | None = None, *, raw: bool = False) -> Image.Image:
    """Decode a file or encoded bytes (PNG, JPEG, WebP, GIF, ...) to RGB (see `normalize`).

    Images over `max_pixels` are refused from their header, before decoding. `name` is
    how messages call the image (default: the file name, or "image" for bytes). `raw=True`
    keeps the decoded pixels as the file has them (mode, orientation), for callers that must
    reproduce another pipeline's own conversion (mmreward.presets: qwen-vl-utils').
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        subject = name or "image"
        if not len(source):
            raise ImageError(f"{subject} is empty (0 bytes)")
        fp = io.BytesIO(source)
    else:
        path = Path(source)
        subject = name or f"image '{path.name}'"
        if not path.is_file():
            raise ImageError(f"{subject} not found")
        fp = path
    try:
        with Image.open(fp) as im:
            check_pixels(im.size, max_pixels, subject)
            im.load()
            return im.copy() if raw else normalize(im)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{subject} is not a readable image file") from None
    except Image.DecompressionBombError as exc:  # Pillow's own (higher) limit, hit inside open()
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" is {int(pixels[1]) / 1e6:.1f} MP," if pixels else ""
        raise ImageError(f"{subject}{size} over Pillow's decompression-bomb limit; refused "
                         "before decoding") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{subject} is corrupt or truncated ({exc})") from None


def image_from_pil(im: Image.Image, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
                   subject: str = "image", *, raw: bool = False) -> Image.Image:
    """A PIL image given in memory (possibly opened lazily): the same cap and rules as a file
    (`raw=True`: loaded and checked, but returned as it is, as `load_image(raw=True)`)."""
    check_pixels(im.size, max_pixels, subject)
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{subject} is corrupt or truncated ({exc})") from None
    return im if raw else normalize(im)


def check_pixels(size: tuple[int, int], max_pixels: int | None, subject: str) -> None:
    w, h = size
    if max_pixels and w * h > max_pixels:
        raise ImageError(f"{subject} is {w}x{h} = {w * h / 1e6:.1f} MP, over the cap of "
                         f"{max_pixels / 1e6:.1f} MP")


def normalize(im: Image.Image) -> Image.Image:
    """An upright 8-bit RGB copy of `im` (the rules are in the module docstring).

    A PIL image given in memory is taken at its current frame; `load_image` opens files
    at their first.
    """
    if im.getexif().get(ExifTags.Base.Orientation, 1) != 1:  # without one, exif_transpose only copies
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = Image.fromarray(_to_uint8(np.asarray(im)), "L")
    if im.mode == "CMYK":
        return _cmyk_to_rgb(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return _on_background(im.convert("RGBA"))
    return im.convert("RGB")


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """High-depth samples -> uint8 by the full range of their type (`_full_scale`)."""
    a = np.nan_to_num(a.astype(np.float64))
    return np.clip(np.rint(a * (255.0 / _full_scale(a))), 0, 255).astype(np.uint8)


def _full_scale(a: np.ndarray) -> float:
    """The value that means white: 65535 for 16-bit data; for 32-bit integers and floats the
    smallest of 1 (float in [0, 1]), 255, 65535 and 2**32 - 1 that holds the maximum."""
    if a.dtype.kind in "ui" and a.dtype.itemsize == 2:
        return 65535.0
    top = float(np.nanmax(a)) if a.size else 0.0
    for scale in (1.0, 255.0, 65535.0):
        if top <= scale:
            return scale
    return 2.0 ** 32 - 1


def _on_background(rgba: Image.Image) -> Image.Image:
    base = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except Exception:  # noqa: BLE001 - a broken or unsupported profile: the plain formula below
            pass
    return im.convert("RGB")


# ------------------------------------------------------------------ images given as arrays

def image_from_array(a: np.ndarray, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
                     subject: str = "image") -> Image.Image:
    """An HW or HWC (C = 1, 3 or 4) numpy array, uint8 or float in [0, 1], as RGB.

    Floats become round(x * 255), so `a / 255` gives back exactly the pixels of `a`;
    four channels are RGBA, composited on `BACKGROUND` like a transparent file.
    """
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] > 4:
        raise ImageError(f"{subject}: array of shape {a.shape} looks channels-first; numpy images "
                         "are HWC (use a.transpose(1, 2, 0)), torch tensors CHW")
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3, 4)):
        raise ImageError(f"{subject}: array of shape {a.shape} is not an image; expected HW or HWC "
                         "with 1, 3 or 4 channels")
    if 0 in a.shape:
        raise ImageError(f"{subject}: array of shape {a.shape} is empty")
    check_pixels((a.shape[1], a.shape[0]), max_pixels, subject)
    a = to_uint8_pixels(a, subject)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return Image.fromarray(a, "L").convert("RGB")
    if a.shape[-1] == 4:
        return _on_background(Image.fromarray(a, "RGBA"))
    return Image.fromarray(a, "RGB")


def to_uint8_pixels(a: np.ndarray, subject: str = "image") -> np.ndarray:
    """uint8 as is; floats in [0, 1] -> round(x * 255); any other dtype or range is an error."""
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind != "f":
        raise ImageError(f"{subject}: dtype {a.dtype} is not supported; give uint8 (0-255) or "
                         "float in [0, 1]")
    a = a.astype(np.float32, copy=False)
    lo, hi = float(np.min(a)), float(np.max(a))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ImageError(f"{subject}: float values must lie in [0, 1], got min {lo:.4g}, max {hi:.4g}")
    return np.rint(a * 255.0).astype(np.uint8)


def tensor_to_array(t, subject: str = "image") -> np.ndarray:
    """A torch tensor as a numpy array on the CPU (bfloat16/float16 as float32), layout unchanged."""
    t = t.detach().cpu()
    if t.is_floating_point():
        t = t.float()
    if t.is_complex():
        raise ImageError(f"{subject}: complex tensors are not images")
    return t.numpy()


def image_from_tensor(t, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
                      subject: str = "image") -> Image.Image:
    """A CHW (C = 1, 3 or 4) or HW torch tensor, float in [0, 1] or uint8, as RGB."""
    if t.ndim == 3 and t.shape[-1] in (1, 3, 4) and t.shape[0] > 4:
        raise ImageError(f"{subject}: tensor of shape {tuple(t.shape)} looks channels-last; torch "
                         "images are CHW (use t.permute(2, 0, 1)), numpy arrays HWC")
    if t.ndim not in (2, 3) or (t.ndim == 3 and t.shape[0] not in (1, 3, 4)):
        raise ImageError(f"{subject}: tensor of shape {tuple(t.shape)} is not an image; expected CHW "
                         "with 1, 3 or 4 channels, or HW")
    a = tensor_to_array(t, subject)
    return image_from_array(a.transpose(1, 2, 0) if a.ndim == 3 else a, max_pixels, subject)


def is_tensor(value) -> bool:
    """Whether `value` is a torch tensor, without importing torch when nothing else has."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)
