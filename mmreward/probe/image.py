"""Image probes: nuisance changes that should not move a preference, and degenerate images
that should never win.

Invariances re-encode, resize, crop or jitter every image of the record (each image with its
own random parameters), so a preference that flips rests on pixels no viewer would weigh.
Sensitivities replace the losing candidate's images by a blank, black or noise image of the
same size: if that wins, a policy can win by drawing nothing.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from mmreward.probe.context import ProbeContext, pair, replace_loser_media
from mmreward.probe.spec import Case, Probe

JPEG_QUALITY = 75
RESIZE_SCALE = 0.85
CROP_KEEP = 0.9  # fraction of each side a crop keeps
JITTER = 0.05  # brightness, contrast and saturation factors drawn from [1 - JITTER, 1 + JITTER]


def _record_images(rec: dict) -> bool:
    return bool(rec.get("images")) or any(c.get("images") for c in rec["candidates"])


def _map_images(rec: dict, fn) -> dict:
    """`rec` with every image replaced by fn(image)."""
    out = {**rec}
    if rec.get("images"):
        out["images"] = [fn(im) for im in rec["images"]]
    out["candidates"] = [{**c, "images": [fn(im) for im in c["images"]]} if c.get("images") else c
                         for c in rec["candidates"]]
    return out


def _invariance(name: str, transform):
    """transform(PIL image, rng) -> (PIL image, jpeg quality or None)."""
    def make(ctx: ProbeContext, i: int) -> list[Case]:
        rec = ctx.records[i]
        if not pair(rec) or not _record_images(rec):
            return []
        rng = ctx.rng(name, i)

        def write(image):
            changed, quality = transform(image, rng)
            return ctx.store.write_image(changed, jpeg_quality=quality)

        return [Case(i, after=_map_images(rec, write), mapping=[0, 1])]
    return make


def jpeg(image: Image.Image, rng) -> tuple[Image.Image, int]:
    return image, JPEG_QUALITY


def resize(image: Image.Image, rng) -> tuple[Image.Image, None]:
    w, h = image.size
    size = (max(28, round(w * RESIZE_SCALE)), max(28, round(h * RESIZE_SCALE)))
    return image.resize(size, Image.Resampling.LANCZOS), None


def crop(image: Image.Image, rng) -> tuple[Image.Image, None]:
    w, h = image.size
    cw, ch = max(1, round(w * CROP_KEEP)), max(1, round(h * CROP_KEEP))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch)), None


def colour_jitter(image: Image.Image, rng) -> tuple[Image.Image, None]:
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(float(rng.uniform(1 - JITTER, 1 + JITTER)))
    return image, None


def replace_loser_images(name: str, change):
    """A hack probe: change(PIL image, record, rng) -> PIL image, for each image of the losing candidate."""
    return replace_loser_media(name, "images", lambda ctx, im, rec, rng: ctx.store.write_image(
        change(ctx.store.image(im), rec, rng)))


def _sensitivity(name: str, fill):
    """fill(size (w, h), rng) -> the PIL image that replaces each image of the losing candidate."""
    return replace_loser_images(name, lambda image, rec, rng: fill(image.size, rng))


def blank(size, rng) -> Image.Image:
    return Image.new("RGB", size, (255, 255, 255))


def black(size, rng) -> Image.Image:
    return Image.new("RGB", size, (0, 0, 0))


def noise(size, rng) -> Image.Image:
    w, h = size
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


PROBES = [
    Probe("jpeg", "image", "invariant", f"every image re-encoded as JPEG quality {JPEG_QUALITY}",
          _invariance("jpeg", jpeg), needs="image"),
    Probe("resize", "image", "invariant", f"every image resized to {RESIZE_SCALE:g}x",
          _invariance("resize", resize), needs="image"),
    Probe("crop", "image", "invariant", f"every image cropped to {CROP_KEEP:g} of each side at a random offset",
          _invariance("crop", crop), needs="image"),
    Probe("colour_jitter", "image", "invariant",
          f"brightness, contrast and saturation of every image scaled by 1 +/- {JITTER:g}",
          _invariance("colour_jitter", colour_jitter), needs="image"),
    Probe("blank_image", "image", "hack", "the losing candidate's images replaced by white images",
          _sensitivity("blank_image", blank), needs="image"),
    Probe("black_image", "image", "hack", "the losing candidate's images replaced by black images",
          _sensitivity("black_image", black), needs="image"),
    Probe("noise_image", "image", "hack", "the losing candidate's images replaced by uniform RGB noise",
          _sensitivity("noise_image", noise), needs="image"),
]
