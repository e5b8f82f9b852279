"""VideoReward (KwaiVGI/VideoAlign) loads from its release layout and scores as inference.py does.

The expected numbers are recomputed here from the cited facts, not through mmreward's code:
the text from the Qwen2-VL chat template and the official prompt (its sha256 taken from the
official prompt_template.py), the pixels by transformers 4.45's image-processor arithmetic,
the forward pass as trainer.py's Qwen2VLRewardModelBT does it (positions 0..L-1, rm_head at the
special tokens) on the UNMERGED PEFT model the release was saved from.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from mmreward.presets import videoalign
from official_layouts import INFERENCE_CONFIG, REWARD_TOKENS, SMALL_CLIPS, VIDEOS, needs_data, official_pixels

pytestmark = needs_data

PROMPT = "A first-person view of an astronaut running across the surface of the moon."
# len and sha256 of DETAILED_PROMPT_WITH_SPECIAL_TOKEN in KwaiVGI/VideoAlign prompt_template.py
# (commit 3e5ebc60), computed from a transcription of the whole file whose length matches the
# repository's (10756 characters)
OFFICIAL_TEMPLATE_LEN = 3997
OFFICIAL_TEMPLATE_SHA256 = "fdb6309bac618dd0c8b1b589d3a0970a974f7856eecbb355a190b2dce54af700"


def official_frame_count(total: int, fps: float) -> int:
    """vision_process.py smart_nframes (VideoAlign), fps mode: total/fps*2 in [4, total], even by round()."""
    n = min(max(total / fps * 2.0, 4), math.floor(min(768, total) / 2) * 2)
    return min(round(n / 2) * 2, total)


def official_text(frames: torch.Tensor) -> str:
    """Qwen2-VL chat template (default system turn, one video, then the text; generation prompt)
    with the video pad expanded to (T/2)(H/14)(W/14)/4 tokens, as the processor does."""
    t, _, h, w = frames.shape
    pads = "<|video_pad|>" * ((t // 2) * (h // 14) * (w // 14) // 4)
    prompt = videoalign.DETAILED_PROMPT_WITH_SPECIAL_TOKEN.format(text_prompt=PROMPT)
    return ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            f"<|vision_start|>{pads}<|vision_end|>{prompt}<|im_end|>\n<|im_start|>assistant\n")


@torch.inference_mode()
def official_raw(vr: dict, clips: list, positions: str = "official") -> list[dict]:
    """trainer.py Qwen2VLRewardModelBT.forward on the unmerged PEFT model, right padding."""
    model, tok = vr["model"], vr["processor"].tokenizer
    ids = [tok(official_text(f.video))["input_ids"] for f in clips]
    length = max(map(len, ids))
    mask = torch.tensor([[1] * len(i) + [0] * (length - len(i)) for i in ids])
    ids = torch.tensor([i + [tok.pad_token_id] * (length - len(i)) for i in ids])
    pixels, grids = zip(*(official_pixels(f.video) for f in clips))
    pixels, grids = torch.cat(pixels), torch.tensor(grids)
    inner = model.model
    if positions == "official":  # embeddings + scattered vision features, decoder without positions
        embeds = inner.language_model.embed_tokens(ids)
        feats = inner.visual(pixels, grid_thw=grids).pooler_output
        embeds[ids == model.config.video_token_id] = feats
        pos = torch.arange(length).view(1, 1, -1).expand(3, len(clips), -1)
        hidden = inner.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos).last_hidden_state
    else:  # what today's model.forward would do: M-RoPE 3-D positions for the vision tokens
        types = (ids == model.config.video_token_id).long() * 2  # 2 = video in transformers 5
        hidden = inner(input_ids=ids, attention_mask=mask, pixel_values_videos=pixels,
                       video_grid_thw=grids, mm_token_type_ids=types).last_hidden_state
    logits = vr["rm_head"](hidden)
    out = []
    for b in range(len(clips)):
        at = [int((ids[b] == tok.convert_tokens_to_ids(t)).nonzero()) for t in REWARD_TOKENS]
        cols = range(3) if logits.shape[-1] == 3 else [0, 0, 0]
        out.append({d: float(logits[b, p, c]) for d, p, c in zip(("VQ", "MQ", "TA"), at, cols)})
    return out


def normalised(raw: dict) -> dict:
    out = {d: (raw[d] - INFERENCE_CONFIG[f"{d}_mean"]) / INFERENCE_CONFIG[f"{d}_std"] for d in raw}
    return {**out, "Overall": out["VQ"] + out["MQ"] + out["TA"]}


@pytest.fixture(scope="module")
def clips(videoreward_rm):
    return [videoreward_rm.read_video(VIDEOS / name) for name in SMALL_CLIPS]


@pytest.fixture(scope="module")
def scored(videoreward_rm, clip_root):
    record = {"id": "v", "prompt": PROMPT, "candidates": [{"videos": [n]} for n in SMALL_CLIPS]}
    return videoreward_rm.score([record], media_root=clip_root, batch_size=2)[0]


def test_frame_count_rule_on_the_real_videos():
    import decord
    from qwen_vl_utils.vision_process import smart_nframes

    counts = {}
    for path in sorted(VIDEOS.glob("*.mp4")):
        reader = decord.VideoReader(str(path))
        total, fps = len(reader), reader.get_avg_fps()
        counts[path.name] = videoalign.frame_count(total, fps, fps=2.0)
        assert counts[path.name] == official_frame_count(total, fps), path.name
    assert counts == {"example_1_A.mp4": 10, "example_1_B.mp4": 10, "example_2_A.mp4": 12,
                      "example_2_B.mp4": 10, "example_3_A.mp4": 10, "example_3_B.mp4": 8}
    # 60 frames at 16 fps = 7.5 frames at 2 fps: VideoAlign rounds to 8, qwen-vl-utils 0.0.14 floors to 6
    assert smart_nframes({"fps": 2.0}, total_frames=60, video_fps=16.0) == 6


def test_sampled_frames_are_the_official_indices_and_sizes(clips):
    import decord
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    clip = clips[0]  # example_3_B: 60 frames, 688x384
    assert clip.indices == torch.linspace(0, 59, 8).round().long().tolist() == [0, 8, 17, 25, 34, 42, 51, 59]
    # smart_resize(384, 688, 28, min 100352, max 100352): 392x700 is over, so both sides shrink by
    # sqrt(384*688/100352) = 1.6226 and floor to multiples of 28: 236.7 -> 224, 424.0 -> 420
    assert tuple(clip.video.shape) == (8, 3, 224, 420)
    raw = torch.tensor(decord.VideoReader(str(VIDEOS / SMALL_CLIPS[0])).get_batch(clip.indices).asnumpy())
    expected = TF.resize(raw.permute(0, 3, 1, 2), [224, 420], interpolation=InterpolationMode.BICUBIC,
                         antialias=True).float()
    assert torch.equal(clip.video, expected)


def test_prompt_template_and_input_ids_are_the_official_ones(videoreward_rm, videoreward, clips):
    template = videoalign.DETAILED_PROMPT_WITH_SPECIAL_TOKEN
    assert len(template) == OFFICIAL_TEMPLATE_LEN
    assert hashlib.sha256(template.encode()).hexdigest() == OFFICIAL_TEMPLATE_SHA256
    base_vocab = len(videoreward["processor"].tokenizer) - 3
    assert videoreward_rm.special_ids == [base_vocab, base_vocab + 1, base_vocab + 2]
    batch = videoreward_rm.batch([(PROMPT, clips[0])])
    expected = videoreward["processor"].tokenizer(official_text(clips[0].video))["input_ids"]
    assert batch["input_ids"][0].tolist() == expected
    for token_id in videoreward_rm.special_ids:
        assert expected.count(token_id) == 1
    pixels, grid = official_pixels(clips[0].video)
    assert batch["video_grid_thw"][0].tolist() == grid
    assert torch.allclose(batch["pixel_values_videos"], pixels, atol=1e-5)


def test_rewards_equal_the_unmerged_official_computation(videoreward, scored, clips):
    assert "error" not in scored, scored
    expected = [normalised(r) for r in official_raw(videoreward, clips)]
    for dim in ("VQ", "MQ", "TA"):
        assert scored["dimensions"][dim] == pytest.approx([e[dim] for e in expected], abs=1e-4)
    assert scored["rewards"] == pytest.approx([e["Overall"] for e in expected], abs=1e-4)
    assert scored["preferred"] == int(expected[1]["Overall"] > expected[0]["Overall"])


def test_the_same_video_twice_is_a_tie(videoreward_rm, clip_root):
    record = {"id": "tie", "prompt": PROMPT, "candidates": [{"videos": [SMALL_CLIPS[0]]}] * 2}
    # one video per pass: two copies of a clip in one batch may differ in the last bits
    out = videoreward_rm.score([record], media_root=clip_root, batch_size=1)[0]
    assert out["rewards"][0] == out["rewards"][1] and out["preferred"] is None


def test_the_lora_and_the_positions_change_the_numbers(videoreward, clips):
    """The comparison above would not notice a dropped adapter or today's default positions."""
    official = official_raw(videoreward, clips)
    with videoreward["peft"].disable_adapter():
        without_lora = official_raw(videoreward, clips)
    mrope = official_raw(videoreward, clips, positions="mrope")
    for other in (without_lora, mrope):
        assert max(abs(a[d] - b[d]) for a, b in zip(official, other) for d in a) > 1e-2


def test_output_dim_3_reads_head_i_at_token_i(videoreward_rm, videoreward, clips):
    head = torch.nn.Linear(videoreward_rm.head.in_features, 3, bias=False)
    torch.nn.init.normal_(head.weight, std=0.5)
    saved_rm, saved_official = videoreward_rm.head, videoreward["rm_head"]
    videoreward_rm.head, videoreward["rm_head"] = head, head
    try:
        got = videoreward_rm.raw_rewards(videoreward_rm.batch([(PROMPT, c) for c in clips])).tolist()
        expected = official_raw(videoreward, clips)
    finally:
        videoreward_rm.head, videoreward["rm_head"] = saved_rm, saved_official
    assert np.allclose(got, [[e["VQ"], e["MQ"], e["TA"]] for e in expected], atol=1e-4)


def test_normalisation_and_overall(videoreward_rm, scored, clips):
    raw = videoreward_rm.raw_rewards(videoreward_rm.batch([(PROMPT, c) for c in clips])).tolist()
    for i, row in enumerate(raw):
        values = dict(zip(("VQ", "MQ", "TA"), row))
        for dim, value in normalised(values).items():
            got = scored["rewards"][i] if dim == "Overall" else scored["dimensions"][dim][i]
            assert got == pytest.approx(value, abs=1e-6)


def test_bad_records_get_error_lines(videoreward_rm, clip_root):
    records = [
        {"id": "text", "prompt": "p", "candidates": [{"text": "an answer"}]},
        {"id": "missing", "prompt": "p", "candidates": [{"videos": ["nope.mp4"]}]},
        {"id": "token", "prompt": "p <|TA_reward|>", "candidates": [{"videos": [SMALL_CLIPS[0]]}]},
    ]
    out = videoreward_rm.score(records, media_root=clip_root)
    assert [o["id"] for o in out] == ["text", "missing", "token"]
    assert "not text" in out[0]["error"]
    assert "'nope.mp4' not found" in out[1]["error"]
    assert "reward token" in out[2]["error"]
