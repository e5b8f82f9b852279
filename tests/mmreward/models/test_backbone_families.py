"""Qwen2-VL and Qwen3-VL load and score like the Qwen2.5-VL `tiny` preset.

Each family gets a tiny random-weight checkpoint (a few million parameters)
built offline with the real Qwen2 tokenizer, the suite's chat template and the
family's released image/video processor settings, saved as an ordinary HF
checkpoint directory. Only the weights are noise, so every path exercised here
(model class, processor, M-RoPE positions, deepstack for Qwen3-VL, video frames)
is the one a released checkpoint takes.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import mmreward
from mmreward.models.backbone import BackboneOptions, load_processor
from mmreward.models.tiny import FAMILIES as TINY_FAMILIES
from mmreward.models.tiny import build_family_checkpoint
from mmreward.scoring.batching import collate
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import pairwise_question
from mmreward.scoring.records import load_item
from yes_token_checks import assert_yes_probability_is_full_softmax

# the tiny builders live in mmreward.models.tiny (mmreward.presets' tests use them too)
FAMILIES = {name: spec for name, spec in TINY_FAMILIES.items() if name != "qwen2_5_vl"}

# each family builds and loads its own tiny checkpoint (~10 s a family on 2 cores): not for the fast loop
pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request, tmp_path_factory):
    """(family name, checkpoint dir), built once per family for this module."""
    name = request.param
    return name, build_family_checkpoint(name, tmp_path_factory.mktemp(name))


@pytest.fixture(scope="module")
def scalar(family):
    return mmreward.load(family[1], "scalar", device="cpu")


@pytest.fixture(scope="module")
def generative(family):
    return mmreward.load(family[1], "generative", device="cpu")


VIDEO_FRAMES = 8


@pytest.fixture(scope="module")
def video_record(tmp_path_factory):
    """(media root, record): a pair of 8-frame 56x56 clips of a square moving left to right."""
    from video.writer import write_mp4

    root = tmp_path_factory.mktemp("family_videos")
    for name, colour in (("a.mp4", (220, 40, 40)), ("b.mp4", (40, 40, 220))):
        frames = np.full((VIDEO_FRAMES, 56, 56, 3), 16, dtype=np.uint8)
        for t in range(VIDEO_FRAMES):
            frames[t, 20:36, 4 + 4 * t:20 + 4 * t] = colour
        write_mp4(root / name, frames)
    record = {"id": "v1", "prompt": "a red square slides to the right",
              "candidates": [{"videos": ["a.mp4"]}, {"videos": ["b.mp4"]}]}
    return root, record


# ---------------------------------------------------------------- tests


@pytest.mark.slow
def test_scalar_loads_family_class_and_batching_is_invariant(family, scalar, image_pairs):
    import transformers

    name, _ = family
    assert type(scalar.module.backbone) is getattr(transformers, FAMILIES[name][0])
    root, records = image_pairs
    batched = scalar.score(records[:3], media_root=root, batch_size=6)
    single = [scalar.score([r], media_root=root, batch_size=1)[0] for r in records[:3]]
    for b, s in zip(batched, single):
        assert "error" not in b, b
        assert all(math.isfinite(x) for x in b["rewards"])
        assert b["id"] == s["id"]
        assert b["rewards"] == pytest.approx(s["rewards"], abs=1e-4)


@pytest.mark.slow
def test_yes_probability_equals_full_vocabulary_softmax(family, generative, image_pairs):
    import transformers

    assert type(generative.module.backbone) is getattr(transformers, FAMILIES[family[0]][0])
    root, records = image_pairs
    out = generative.score(records[:1], media_root=root)
    assert all(0.0 <= p <= 1.0 for o in out for p in o["p_yes"]), out

    assert_yes_probability_is_full_softmax(generative, records[0], root)


def test_video_record_scores_with_every_sampled_frame(family, scalar, generative, video_record):
    root, record = video_record
    # every frame mmreward sampled reaches the model: the processor must not sample again
    item = load_item(record, MediaOptions(media_root=root, video_frames=VIDEO_FRAMES))
    batch = collate(scalar.processor, [pairwise_question(item, *item.candidates)])
    assert batch["video_grid_thw"][:, 0].tolist() == [VIDEO_FRAMES // 2] * 2  # temporal patch 2

    [s] = scalar.score([record], media_root=root)
    assert "error" not in s, s
    assert all(math.isfinite(x) for x in s["rewards"])
    [g] = generative.score([record], media_root=root)
    assert "error" not in g, g
    assert all(0.0 <= p <= 1.0 for p in g["p_yes"])


@pytest.mark.slow
def test_pixel_bounds_reach_the_family_processor(family, image_pairs):
    name, path = family
    patch = {"qwen2_vl": 14, "qwen3_vl": 16}[name]
    factor = 2 * patch  # 2x2 merge
    root, records = image_pairs
    item = load_item(records[0], MediaOptions(media_root=root))
    prompt = pairwise_question(item, *item.candidates)
    # a 56x56 image with min_pixels raised to (4 * factor)^2 is resized up to a 4x4 grid of merged patches
    bounds = (4 * factor) ** 2
    processor = load_processor(str(path), BackboneOptions(min_pixels=bounds, max_pixels=bounds))
    assert processor.image_processor.size == {"shortest_edge": bounds, "longest_edge": bounds}
    grid = collate(processor, [prompt])["image_grid_thw"]
    assert grid.tolist() == [[1, 8, 8]] * 2


def test_qwen3_frame_timestamps_come_from_the_clip(family, scalar, video_record):
    """Qwen3-VL writes "<t seconds>" before each frame pair: t from the real fps and frame numbers."""
    name, _ = family
    if name != "qwen3_vl":
        pytest.skip("only Qwen3-VL labels frames with timestamps")
    root, record = video_record
    item = load_item(record, MediaOptions(media_root=root, video_frames=VIDEO_FRAMES))
    clip = item.candidates[0].videos[0]
    batch = collate(scalar.processor, [pairwise_question(item, *item.candidates)])
    text = scalar.processor.tokenizer.decode(batch["input_ids"][0])
    pairs = [clip.indices[i:i + 2] for i in range(0, len(clip.indices), 2)]
    expected = [f"{(a + b) / 2 / clip.fps:.1f}" for a, b in pairs]
    assert expected != [f"{(a + b) / 2 / 24:.1f}" for a, b in pairs]  # the clip tells apart a 24 fps guess
    assert re.findall(r"<(\d+\.\d) seconds>", text)[:len(expected)] == expected


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_token_counts_before_processing_equal_the_family_processor(name, video_record, image_pairs):
    """The engine's token budget counts prompts from sizes alone (Qwen3-VL's "<t seconds>" labels too)."""
    from mmreward.scoring.batching import count_tokens

    processor = FAMILIES[name][2]()
    root, record = video_record
    video_item = load_item(record, MediaOptions(media_root=root, video_frames=VIDEO_FRAMES))
    img_root, records = image_pairs
    image_item = load_item(records[0], MediaOptions(media_root=img_root))
    for prompt in (pairwise_question(video_item, *video_item.candidates),
                   pairwise_question(image_item, *image_item.candidates)):
        assert count_tokens(processor, prompt) == collate(processor, [prompt])["input_ids"].shape[1]
