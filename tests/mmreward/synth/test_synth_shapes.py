"""Drawing helpers: shapes land in their box, in their colour, identically every time."""
import numpy as np
import pytest
from PIL import Image

from mmreward.synth.shapes import COLOURS, SHAPES, describe, draw_shape, random_background, random_box, shape_mask


@pytest.mark.parametrize("shape", SHAPES)
def test_shape_stays_in_its_box_and_fills_its_centre(shape):
    img = draw_shape(Image.new("RGB", (40, 40), (128, 128, 128)), shape, "red", (10, 12, 30, 32))
    a = np.asarray(img).astype(int)
    changed = np.abs(a - 128).sum(2) > 0
    ys, xs = np.nonzero(changed)
    assert xs.min() >= 10 and xs.max() < 30 and ys.min() >= 12 and ys.max() < 32
    assert tuple(a[22, 20]) == COLOURS["red"]
    assert 0.2 < changed.sum() / 400 <= 1.0


def test_shapes_are_distinct():
    masks = {s: np.asarray(shape_mask(s, 32, 32)) > 127 for s in SHAPES}
    for a in SHAPES:
        for b in SHAPES:
            if a < b:
                iou = (masks[a] & masks[b]).sum() / (masks[a] | masks[b]).sum()
                assert iou < 0.85, (a, b, iou)


def test_helpers_are_deterministic_and_in_range():
    a = random_background(32, np.random.default_rng(5))
    b = random_background(32, np.random.default_rng(5))
    assert a.tobytes() == b.tobytes() and a.size == (32, 32)
    for seed in range(50):
        x0, y0, x1, y1 = random_box(56, np.random.default_rng(seed))
        assert 0 <= x0 < x1 <= 56 and 0 <= y0 < y1 <= 56 and x1 - x0 == y1 - y0 >= 0.35 * 56 - 1


def test_describe_and_errors():
    assert describe("circle", "red") == "a red circle" and describe("star", "orange") == "an orange star"
    with pytest.raises(ValueError):
        draw_shape(Image.new("RGB", (8, 8)), "hexagon", "red", (0, 0, 8, 8))
    with pytest.raises(ValueError):
        draw_shape(Image.new("RGB", (8, 8)), "circle", "red", (4, 4, 4, 8))
