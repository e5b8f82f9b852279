"""Synthetic image preference pairs: "a red circle" vs a picture of something else.

Each pair: a prompt naming a shape and a colour; the chosen image shows exactly
that, the rejected one another shape, another colour or both. The two images get
independent backgrounds, positions and sizes from the same distributions, so
only the shape and colour of the drawn object tell them apart. Which position
holds the chosen image is a fair coin per pair.

Deterministic: pair i depends only on (seed, i), so the first k pairs are the
same for any n >= k.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .records import write_records
from .shapes import COLOURS, SHAPES, describe, draw_shape, pick_other, random_background, random_box

_STREAM = 1  # separates the image task's random streams from the video task's
DIFFER = ("any", "shape", "colour", "both")


def make_image_pairs(out_dir: str | Path, n: int, seed: int = 0, size: int = 56, *,
                     test_fraction: float = 0.0, shapes=SHAPES, colours=tuple(COLOURS),
                     differ: str = "any") -> list[dict]:
    """Write n pairs as OUT/images/*.png plus JSONL (see records.write_records); return the records.

    differ: what the rejected image gets wrong: "shape", "colour", "both", or
    "any" (one of the three, uniformly per pair).
    """
    if differ not in DIFFER:
        raise ValueError(f"differ must be one of {DIFFER}, got {differ!r}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        rng = np.random.default_rng([seed, _STREAM, i])
        record, images = image_pair(rng, i, size, shapes, colours, differ)
        for cand, img in zip(record["candidates"], images):
            img.save(out_dir / cand["images"][0], format="PNG", optimize=False)
        records.append(record)
    write_records(out_dir, records, test_fraction)
    return records


def image_pair(rng: np.random.Generator, i: int, size: int, shapes, colours, differ: str):
    """(record, [image0, image1]) for pair number i, drawn from rng."""
    shape, colour = shapes[int(rng.integers(len(shapes)))], colours[int(rng.integers(len(colours)))]
    wrong = differ if differ != "any" else ("shape", "colour", "both")[int(rng.integers(3))]
    bad_shape = pick_other(shape, shapes, rng) if wrong in ("shape", "both") else shape
    bad_colour = pick_other(colour, colours, rng) if wrong in ("colour", "both") else colour
    chosen = int(rng.integers(2))
    drawn = [(shape, colour), (bad_shape, bad_colour)] if chosen == 0 else [(bad_shape, bad_colour), (shape, colour)]
    images, meta = [], []
    for s, c in drawn:
        img = random_background(size, rng)
        box = random_box(size, rng)
        images.append(draw_shape(img, s, c, box))
        meta.append({"shape": s, "colour": c, "box": list(box)})
    record = {
        "id": f"img-{i:05d}",
        "prompt": describe(shape, colour),
        "candidates": [{"images": [f"images/{i:05d}_{k}.png"]} for k in range(2)],
        "chosen": chosen,
        "meta": {"differ": wrong, "drawn": meta},
    }
    return record, images


#: (file name, PIL mode, (width, height)) of `image_modes`
IMAGE_MODES = (("shapes.png", "RGB", (320, 200)), ("alpha.png", "RGBA", (150, 300)),
               ("palette.png", "P", (256, 256)), ("grey.png", "L", (100, 100)), ("wide.jpg", "RGB", (1000, 120)))


def image_modes(out_dir: str | Path) -> list[Path]:
    """One drawn image per form a reward model's own preprocessing must take as the file holds it:
    RGB, RGBA with a varying alpha, a 16-colour palette, greyscale, a wide JPEG (`IMAGE_MODES`)."""
    from PIL import Image, ImageDraw

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for name, mode, (w, h) in IMAGE_MODES:
        image = Image.new("RGB", (w, h), (30, 60, 90))
        draw = ImageDraw.Draw(image)
        draw.ellipse((w // 5, h // 5, w // 2, h // 2), fill=(220, 40, 40))
        draw.rectangle((w // 2, h // 3, 4 * w // 5, 4 * h // 5), fill=(40, 200, 90))
        draw.line((0, h - 1, w - 1, 0), fill=(250, 250, 20), width=3)
        if mode == "RGBA":
            image = image.convert("RGBA")
            image.putalpha(Image.linear_gradient("L").resize((w, h)))
        elif mode != "RGB":
            image = image.convert(mode, palette=Image.ADAPTIVE, colors=16) if mode == "P" else image.convert(mode)
        image.save(out_dir / name)
        made.append(out_dir / name)
    return made
