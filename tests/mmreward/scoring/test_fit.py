"""Images brought to the model's size right after decoding: the pixels reaching the model are
bit for bit those of the full-size image, and a chunk's decoded media are bounded."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mmreward.scoring import engine, loop
from mmreward.scoring.fit import image_fit


def _photo(rng, w, h):
    """Noise plus a gradient: every resampling difference shows in the pixels."""
    base = np.linspace(0, 255, w * h * 3).reshape(h, w, 3)
    return Image.fromarray(np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8))


def _processor(patch, shortest, longest, as_dict=False):
    """The image half of a Qwen-VL processor: Qwen2-VL/2.5-VL (14 px patches) and Qwen3-VL (16 px)
    all use transformers' Qwen2VLImageProcessor, with smaller bounds here to keep the test quick."""
    from types import SimpleNamespace

    from transformers import Qwen2VLImageProcessor

    ip = Qwen2VLImageProcessor(size={"shortest_edge": shortest, "longest_edge": longest}, patch_size=patch,
                               temporal_patch_size=2, merge_size=2)
    if as_dict:  # as mmreward.models.backbone.load_processor leaves it after --min/--max-pixels
        ip.size = {"shortest_edge": shortest, "longest_edge": longest}
    return SimpleNamespace(image_processor=ip)


@pytest.mark.parametrize("patch, shortest, longest, as_dict", [
    (14, 56 * 56, 320 * 28 * 28, False),  # Qwen2-VL, Qwen2.5-VL
    (16, 64 * 64, 256 * 32 * 32, False),  # Qwen3-VL
    (14, 28 * 28, 256 * 28 * 28, True),  # the tiny preset's bounds, set as a plain dict
])
def test_fitted_images_give_the_processor_the_same_pixels_as_full_size_ones(patch, shortest, longest, as_dict):
    processor = _processor(patch, shortest, longest, as_dict)
    fit = image_fit(processor)
    rng = np.random.default_rng(0)
    shrunk = 0
    for w, h in ((1203, 905), (640, 2100), (2500, 333), (97, 53), (1001, 1001)):
        full = _photo(rng, w, h)
        small = fit(full.copy())
        shrunk += small.size != full.size
        a = processor.image_processor(images=[full], return_tensors="pt")
        b = processor.image_processor(images=[small], return_tensors="pt")
        assert torch.equal(a["image_grid_thw"], b["image_grid_thw"]), (w, h)
        assert torch.equal(a["pixel_values"], b["pixel_values"]), (w, h)
    assert shrunk >= 4  # the large ones were resized before the processor saw them


@pytest.mark.slow
def test_rewards_are_unchanged_and_a_chunk_holds_bounded_media(tmp_path, scalar_rm, monkeypatch):
    from dataclasses import replace

    from mmreward.scoring.fit import decoded_bytes
    from mmreward.scoring.records import load_item

    rng = np.random.default_rng(1)
    for name, size in (("a.png", (700, 500)), ("b.jpg", (400, 900)), ("c.png", (60, 40))):
        _photo(rng, *size).save(tmp_path / name)
    records = [{"id": f"r{i}", "prompt": "which is better?",
                "candidates": [{"images": ["a.png", "c.png"]}, {"images": ["b.jpg"]}]} for i in range(4)]
    records.append({"id": "bad", "prompt": "p", "candidates": [{"images": ["missing.png"]}]})
    fitted = scalar_rm.score(records, media_root=tmp_path)
    opts = replace(scalar_rm.media_options(tmp_path), image_fit=scalar_rm.scorer.fit)
    per_record = decoded_bytes(load_item(records[0], opts))
    assert per_record < 3 * (700 * 500 + 60 * 40 + 400 * 900)  # held at the model's size, not the file's

    runs = []  # records per scoring pass of the chunk loop
    score_plans = loop._score_plans
    monkeypatch.setattr(loop, "_score_plans", lambda plans, *a: (runs.append(len(plans)), score_plans(plans, *a)))
    monkeypatch.setattr(scalar_rm.scorer, "fit", None)  # the old way: full-size images into the processor
    assert scalar_rm.score(records, media_root=tmp_path) == fitted
    assert runs == [4]
    # a bound of one and a half records' decoded media: the chunk is scored two records at a time
    monkeypatch.setattr(scalar_rm.scorer, "fit", image_fit(scalar_rm.processor))
    monkeypatch.setattr(engine, "CHUNK_MEDIA_BYTES", per_record * 3 // 2)
    runs.clear()
    assert json.dumps(scalar_rm.score(records, media_root=tmp_path)) == json.dumps(fitted)
    assert runs == [2, 2, 0] and "not found" in fitted[-1]["error"]
