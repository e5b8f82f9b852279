"""Qwen2-VL and Qwen3-VL load and score like the Qwen2.5-VL `tiny` preset.

Each family gets a tiny random-weight checkpoint (a few million parameters)
built offline with the real Qwen2 tokenizer, the suite's chat template and the
family's released image/video processor settings, saved as an ordinary HF
checkpoint directory. Only the weights are noise, so every path exercised here
(model class, processor, M-RoPE positions, deepstack for Qwen3-VL, video frames)
is the one a released checkpoint takes.
"""
from __future__ import annotations

import functools
import math
import re

import numpy as np
import pytest
import torch

import mmreward
from mmreward.models.backbone import BackboneOptions, load_processor
from mmreward.scoring.batching import collate
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import pairwise_question
from mmreward.scoring.records import load_item
from yes_token_checks import assert_yes_probability_is_full_softmax

# ---------------------------------------------------------------- tiny builders

# Shared tiny decoder: 2 layers, hidden 64, head_dim 16 (M-RoPE section [2, 3, 3] = head_dim / 2).
TEXT = dict(
    vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
    bos_token_id=151643, eos_token_id=151645, pad_token_id=151643, tie_word_embeddings=True,
)
SPECIAL_IDS = dict(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
                   vision_end_token_id=151653, tie_word_embeddings=True)

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


@functools.cache
def qwen2_tokenizer():
    """The real Qwen2 tokenizer, built once (building it from the BPE ranks takes seconds)."""
    from mmreward.models.tokenizer import build_qwen2_tokenizer

    return build_qwen2_tokenizer()


def qwen2_vl_config():
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(
        text_config=dict(TEXT, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=64, mlp_ratio=2, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        **SPECIAL_IDS,
    )


def qwen3_vl_config():
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(
        text_config=dict(TEXT, head_dim=16, rope_parameters={
            "rope_type": "default", "rope_theta": 5e6, "mrope_section": [2, 3, 3], "mrope_interleaved": True}),
        # deepstack feeds vision layer 0's features into the decoder too, as the real (8, 16, 24) do
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                           num_position_embeddings=64, deepstack_visual_indexes=[0]),
        **SPECIAL_IDS,
    )


def qwen2_vl_processor():
    """Qwen2-VL-*-Instruct preprocessing: 14 px patches, 2x2 merge, CLIP mean/std, per-frame video bounds."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE
    from mmreward.models.tiny import IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS, VIDEO_MAX_PIXELS, VIDEO_MIN_PIXELS

    common = dict(patch_size=14, temporal_patch_size=2, merge_size=2, image_mean=CLIP_MEAN, image_std=CLIP_STD)
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            size={"shortest_edge": IMAGE_MIN_PIXELS, "longest_edge": IMAGE_MAX_PIXELS}, **common),
        video_processor=Qwen2VLVideoProcessor(
            size={"shortest_edge": VIDEO_MIN_PIXELS, "longest_edge": VIDEO_MAX_PIXELS}, **common),
        tokenizer=qwen2_tokenizer(),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def qwen3_vl_processor():
    """Qwen3-VL-*-Instruct preprocessing: 16 px patches, 2x2 merge, mean/std 0.5, per-clip video bounds."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE

    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size={"shortest_edge": 65536, "longest_edge": 16777216}, **common),
        # the released video processor samples 2 fps itself (do_sample_frames defaults to True)
        video_processor=Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824}, **common),
        tokenizer=qwen2_tokenizer(),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


FAMILIES = {
    "qwen2_vl": ("Qwen2VLForConditionalGeneration", qwen2_vl_config, qwen2_vl_processor),
    "qwen3_vl": ("Qwen3VLForConditionalGeneration", qwen3_vl_config, qwen3_vl_processor),
}


def build_family_checkpoint(family: str, out_dir, seed: int = 0):
    """Write a tiny random-weight checkpoint of `family` (config, safetensors, processor) to `out_dir`."""
    import transformers

    class_name, config_fn, processor_fn = FAMILIES[family]
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config_fn())
    model.save_pretrained(out_dir)
    processor_fn().save_pretrained(out_dir)
    return out_dir


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
