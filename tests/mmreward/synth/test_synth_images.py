"""Synthetic image pairs: the pixels decide, the seed decides the bytes, positions are balanced."""
import json

import numpy as np
import pytest
from PIL import Image

from mmreward.synth.images import make_image_pairs
from mmreward.synth.shapes import COLOURS, SHAPES, shape_mask


def read_pixels_oracle(path, box):
    """(shape, colour) of the drawn object, judged from pixels only (box: where to look).

    Foreground = pixels far from the image's median colour; colour = nearest named
    colour to their mean; shape = the shape mask that best overlaps them in the box.
    """
    a = np.asarray(Image.open(path).convert("RGB")).astype(float)
    fg = np.linalg.norm(a - np.median(a.reshape(-1, 3), axis=0), axis=2) > 60
    colour = min(COLOURS, key=lambda c: np.linalg.norm(a[fg].mean(0) - COLOURS[c]))
    x0, y0, x1, y1 = box
    region = fg[y0:y1, x0:x1]

    def iou(shape):
        m = np.asarray(shape_mask(shape, x1 - x0, y1 - y0)) > 127
        return (m & region).sum() / (m | region).sum()
    return max(SHAPES, key=iou), colour


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("img")
    return out, make_image_pairs(out, n=120, seed=7, size=56)


def test_only_the_chosen_image_shows_the_prompt(pairs):
    out, records = pairs
    for r in records:
        seen = [read_pixels_oracle(out / c["images"][0], d["box"])
                for c, d in zip(r["candidates"], r["meta"]["drawn"])]
        named = [f"{'an' if c[0] in 'aeiou' else 'a'} {c} {s}" for s, c in seen]
        assert [n == r["prompt"] for n in named] == [k == r["chosen"] for k in range(2)], r["id"]


def test_chosen_position_balanced_and_no_cheap_cues(pairs):
    out, records = pairs
    chosen = np.array([r["chosen"] for r in records])
    assert 0.35 < chosen.mean() < 0.65
    # neither background brightness nor object size predicts the chosen image
    def brightness(r, k):
        return np.median(np.asarray(Image.open(out / r["candidates"][k]["images"][0])))
    def side(r, k):
        box = r["meta"]["drawn"][k]["box"]
        return box[2] - box[0]
    for cue in (brightness, side):
        hits = np.mean([(cue(r, 1) > cue(r, 0)) == (r["chosen"] == 1) for r in records])
        assert 0.3 < hits < 0.7, cue.__name__


def test_all_three_kinds_of_mistake_occur(pairs):
    kinds = {r["meta"]["differ"] for r in pairs[1]}
    assert kinds == {"shape", "colour", "both"}


def test_same_seed_same_bytes_and_prefix_stable(tmp_path):
    a = make_image_pairs(tmp_path / "a", n=6, seed=3, size=64)
    b = make_image_pairs(tmp_path / "b", n=3, seed=3, size=64)
    make_image_pairs(tmp_path / "c", n=3, seed=4, size=64)
    assert a[:3] == b
    for name in ("00000_0.png", "00001_1.png", "00002_0.png"):
        assert (tmp_path / "a/images" / name).read_bytes() == (tmp_path / "b/images" / name).read_bytes()
    assert any((tmp_path / "a/images" / n).read_bytes() != (tmp_path / "c/images" / n).read_bytes()
               for n in ("00000_0.png", "00001_0.png", "00002_0.png"))
    assert Image.open(tmp_path / "a/images/00000_0.png").size == (64, 64)


def test_records_follow_the_scoring_format(tmp_path):
    records = make_image_pairs(tmp_path, n=10, seed=0, test_fraction=0.3)
    train = [json.loads(x) for x in open(tmp_path / "train.jsonl")]
    test = [json.loads(x) for x in open(tmp_path / "test.jsonl")]
    assert (len(train), len(test)) == (7, 3) and train + test == records
    assert not (tmp_path / "pairs.jsonl").exists()
    for r in records:
        assert isinstance(r["prompt"], str) and r["chosen"] in (0, 1)
        assert len(r["candidates"]) == 2
        for c in r["candidates"]:
            (path,) = c["images"]
            assert not path.startswith("/") and (tmp_path / path).is_file()


def test_restricted_vocabulary_and_differ(tmp_path):
    records = make_image_pairs(tmp_path, n=20, seed=1, shapes=("circle", "square"),
                               colours=("red", "blue"), differ="colour")
    for r in records:
        drawn = r["meta"]["drawn"]
        assert drawn[0]["shape"] == drawn[1]["shape"] and drawn[0]["colour"] != drawn[1]["colour"]
        assert {d["shape"] for d in drawn} <= {"circle", "square"}
    with pytest.raises(ValueError):
        make_image_pairs(tmp_path, n=1, differ="size")
