"""UnifiedReward presets ask the official prompts, feed the official inputs and parse by the
official rules; greedy judge_text equals the official script's own steps run beside it.

The "official script" here is the scripts' own sequence of calls (apply_chat_template,
qwen-vl-utils' process_vision_info, processor, generate, batch_decode) on the same model, with
what transformers 4.5x fed the model where today's differs (Qwen2.5-VL video timing) restored by
hand; the prompts are checked against sha256 sums of the official texts.
"""
from __future__ import annotations

import hashlib

import pytest
import torch
from PIL import Image

import mmreward
from mmreward.errors import ConfigError
from mmreward.presets import unifiedreward as ur
from mmreward.presets import unifiedreward_prompts as P
from mmreward.registry import find_loader, preset_for
from official_layouts import IMAGES, SMALL_CLIPS, needs_data, official_pixels

pytestmark = needs_data
CAPTION = "A man ironing clothes on an ironing board on the back of a yellow taxi."
TOKENS = 10
PHOTOS = ["extreme_ironing.jpg", "waterview.jpg"]
# sha256 of each prompt as the official script builds it ({prompt} in place of the caption),
# computed from transcriptions of the scripts whose lengths match the repository's files
OFFICIAL_SHA256 = {
    "PAIR_RANK_IMAGE": "0fd2f5c43a06516503fde3e64ffc98fff6f3a8815b5eac8dc5f0d81cee686614",
    "PAIR_RANK_VIDEO": "c76ba521846dcdd36e30046c8ceac18840cb6b0ad5f5a7bc731102b2267f2db9",
    "POINT_SCORE_IMAGE": "f56f919ce3bc6aab3c173a5f836defe195e17e9614753e8b4c3dc2405bd4975b",
    "POINT_SCORE_VIDEO": "514a6343388979f80886656c5cb7d05f2286f2c837f5d1e1435ae0daf00ece68",
    "THINK_PAIR_RANK_IMAGE": "342f6a4bd0efdae0ca754259d78404e534aae5f1c5527dd47f6062028305e3ff",
    "THINK_PAIR_RANK_VIDEO": "f45197425b810d08e0067579cfd59e105a1f9bf8e5850ba879c638080cadc61e",
    "THINK_QWEN3VL_PAIR_RANK_IMAGE": "a8a0d80818246406b783d5cca630336c5fdf1264fef13f09d09bd94d61a139d5",
    "THINK_QWEN3VL_PAIR_RANK_VIDEO": "e40c6e7f767f2cca279d599365ee4066a7f49dd3dc55328d36d01bbc0a8ec3ab",
}


@pytest.fixture(scope="module")
def judge():
    """UnifiedReward on the plain tiny Qwen2.5-VL (a plain VLM directory, as the release is)."""
    return mmreward.load("tiny", preset="unifiedreward", device="cpu", dtype="float32", max_new_tokens=TOKENS)


@pytest.fixture(scope="module")
def qwen3_dir(tmp_path_factory):
    from mmreward.models.tiny import build_family_checkpoint

    return build_family_checkpoint("qwen3_vl", tmp_path_factory.mktemp("qwen3"), seed=1)


def official_generate(model, processor, inputs, tokens=TOKENS) -> str:
    """The scripts' generate + decode (greedy; special tokens skipped, no clean-up)."""
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=tokens, do_sample=False)
    return processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True,
                                  clean_up_tokenization_spaces=False)[0]


def chat(*parts: str) -> str:
    """The Qwen2-VL/2.5-VL chat template written out: default system turn, one user turn."""
    return ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            + "".join(parts) + "<|im_end|>\n<|im_start|>assistant\n")


def test_prompts_are_the_official_texts():
    for name, digest in OFFICIAL_SHA256.items():
        text = getattr(P, name)
        assert hashlib.sha256(text.encode()).hexdigest() == digest, name
        assert text.count("{prompt}") == 1 and text.count("{") == 1 and text.count("}") == 1, name


@pytest.mark.parametrize("text, noun, rewards, parsed", [
    ("Image 1 is better.", "Image", [1.0, 0.0], True),  # the conclusions the image prompt asks for
    ("Image 2 is better.", "Image", [0.0, 1.0], True),
    ("Both images are equally good.", "Image", [0.5, 0.5], True),
    ("Video 1 is better,", "Video", [1.0, 0.0], True),  # ... and the video prompt's
    ("Both videos are equally good.", "Video", [0.5, 0.5], True),
    ("The two videos differ in style.", "Video", [0.5, 0.5], False),  # no verdict: 'same' by the rule
    ("image 1 is better", "Image", [0.5, 0.5], False),  # the rule is case-sensitive
])
def test_pair_rank_rule(text, noun, rewards, parsed):
    assert ur.pair_verdict(text, noun) == (rewards, parsed)


@pytest.mark.parametrize("text, score, parsed", [
    # the example answer the video point-score prompt itself gives
    ("visual quality: 4\ntemporal consistency: 4\ndynamic degree: 3\ntext-to-video alignment: 1\n"
     "factual consistency: 2\nFinal Score: 6", 6.0, True),
    ("sky (object): 1\nFinal Score: 3.5", 3.0, True),  # the first integer after it: 3
    ("Final Score: 2\n... on reflection, Final Score: 4", 4.0, True),  # the last 'Final Score:'
    ("I would give it 4 out of 5.", 4.0, False),  # no 'Final Score:': the first integer
    ("No score.", 0.0, False),
])
def test_point_score_rule(text, score, parsed):
    assert ur.final_score(text) == (score, parsed)


@pytest.mark.parametrize("text, rewards, parsed", [
    # the Think prompts' own example output
    ("<think>\n1. Semantic consistency: Image 1 (9/10) - ...; Image 2 (7/10) - ...\nTotal score:\n"
     "Image 1: 9+8+8+6=31\nImage 2: 7+8+5+8=28\n</think>\n<answer>Image 1 is better</answer>", [1.0, 0.0], True),
    ("<think>Image 1 is better in colour.</think>\n<answer>Image 2 is better</answer>", [0.0, 1.0], True),
    ("<think>...</think> Image 2 is better", [0.0, 1.0], False),  # no answer block: the benchmark rule
    ("<answer>undecided</answer>", [0.5, 0.5], False),
])
def test_think_rule(text, rewards, parsed):
    assert ur.think_verdict(text, "Image") == (rewards, parsed)


def test_hub_ids_pick_the_preset():
    assert preset_for("CodeGoat24/UnifiedReward-qwen-7b") == "unifiedreward"
    assert preset_for("CodeGoat24/UnifiedReward-2.0-qwen-72b") == "unifiedreward"
    assert preset_for("codegoat24/unifiedreward-think-qwen-7b") == "unifiedreward-think"
    assert preset_for("CodeGoat24/UnifiedReward-Think-qwen3vl-8b") == "unifiedreward-think"
    assert find_loader("CodeGoat24/UnifiedReward-qwen-7b") is ur.load


@pytest.mark.slow
def test_image_pair_rank_is_the_official_script(judge):
    model, processor = judge.backbone, judge.processor
    record = {"id": "i", "prompt": CAPTION, "candidates": [{"images": [p]} for p in PHOTOS]}
    [out] = judge.score([record], media_root=IMAGES)
    # inference_qwen/image_generation/qwen_pair_rank_image_generation.py, step by step
    from qwen_vl_utils import process_vision_info

    messages = [{"role": "user", "content": [{"type": "image", "image": Image.open(IMAGES / p)} for p in PHOTOS]
                 + [{"type": "text", "text": P.PAIR_RANK_IMAGE.replace("{prompt}", CAPTION)}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, videos = process_vision_info(messages)
    inputs = processor(text=[text], images=images, videos=videos, padding=True, return_tensors="pt")
    ours = judge.inputs(judge.question(CAPTION, [("images", IMAGES / p) for p in PHOTOS],
                                       ur.RECIPES[("unifiedreward", "pair-rank", "image")]))
    assert ours["input_ids"].tolist() == inputs["input_ids"].tolist()
    grids = inputs["image_grid_thw"].tolist()
    pads = ["<|vision_start|>" + "<|image_pad|>" * (t * h * w // 4) + "<|vision_end|>" for t, h, w in grids]
    assert inputs["input_ids"][0].tolist() == processor.tokenizer(
        chat(*pads, P.PAIR_RANK_IMAGE.replace("{prompt}", CAPTION)))["input_ids"]
    expected_pixels = torch.cat([official_pixels(im)[0] for im in images])  # what 4.5x's processor made
    assert torch.allclose(ours["pixel_values"], expected_pixels, atol=1e-5)
    assert out["judge_text"] == [official_generate(model, processor, inputs)]
    assert out["rewards"] == ur.pair_verdict(out["judge_text"][0], "Image")[0]
    assert out["verdict_parsed"] == [ur.pair_verdict(out["judge_text"][0], "Image")[1]]


@pytest.mark.slow
def test_video_pair_rank_feeds_the_official_timing(judge, clip_root):
    model, processor = judge.backbone, judge.processor
    record = {"id": "v", "prompt": CAPTION, "candidates": [{"videos": [c]} for c in SMALL_CLIPS]}
    [out] = judge.score([record], media_root=clip_root)
    # inference_qwen/video_generation/qwen_pair_rank_video_generation.py, step by step
    from qwen_vl_utils import process_vision_info

    messages = [{"role": "user", "content": [{"type": "video", "video": str(clip_root / c)} for c in SMALL_CLIPS]
                 + [{"type": "text", "text": P.PAIR_RANK_VIDEO.replace("{prompt}", CAPTION)}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, videos, video_kwargs = process_vision_info(messages, return_video_kwargs=True)
    # 60 frames at 16 fps and 144 at 24 fps, 2 fps asked: 6 and 12 frames (0.0.10+ floors 7.5 to 6)
    assert [v.shape[0] for v in videos] == [6, 12]
    # the script passes **video_kwargs ({"fps": [1.6, 2.0], ...}); today's processor refuses a list
    # fps, and 4.5x's turned it into second_per_grid_ts = temporal_patch_size / fps: done by hand
    assert video_kwargs["fps"] == pytest.approx([6 / 60 * 16, 12 / 144 * 24])
    inputs = processor(text=[text], images=images, videos=videos, return_tensors="pt", do_sample_frames=False)
    timing = torch.tensor([2 / fps for fps in video_kwargs["fps"]])
    inputs["second_per_grid_ts"] = timing
    ours = judge.inputs(judge.question(CAPTION, [("videos", clip_root / c) for c in SMALL_CLIPS],
                                       ur.RECIPES[("unifiedreward", "pair-rank", "video")]))
    assert ours["input_ids"].tolist() == inputs["input_ids"].tolist()
    assert torch.allclose(torch.as_tensor(ours["second_per_grid_ts"], dtype=torch.float32), timing)
    expected_pixels = torch.cat([official_pixels(v)[0] for v in videos])
    assert torch.allclose(ours["pixel_values_videos"], expected_pixels, atol=1e-5)
    # the first video's temporal positions: (arange(grid_t) * second_per_grid * tokens_per_second).long()
    pos, _ = model.model.get_rope_index(ours["input_ids"], ours["mm_token_type_ids"],
                                        video_grid_thw=ours["video_grid_thw"],
                                        second_per_grid_ts=ours["second_per_grid_ts"])
    start = int((ours["input_ids"][0] == model.config.video_token_id).nonzero()[0])
    grid_t, grid_h, grid_w = ours["video_grid_thw"][0].tolist()
    tps = model.config.vision_config.tokens_per_second
    per_frame = grid_h * grid_w // 4
    t_rows = pos[0, 0, start:start + grid_t * per_frame:per_frame] - pos[0, 0, start]
    assert t_rows.tolist() == [int(i * timing[0].item() * tps) for i in range(grid_t)]
    assert t_rows.tolist() != list(range(grid_t))  # 2 fps of a 16 fps clip: not one step per frame pair
    assert out["judge_text"] == [official_generate(model, processor, inputs)]


def test_point_score_asks_once_per_candidate(judge, clip_root):
    from qwen_vl_utils import process_vision_info

    record = {"id": "p", "prompt": CAPTION, "candidates": [{"images": [PHOTOS[0]]}]}
    [out] = judge.score([record], media_root=IMAGES)
    messages = [{"role": "user", "content": [{"type": "image", "image": Image.open(IMAGES / PHOTOS[0])},
                                             {"type": "text", "text": P.POINT_SCORE_IMAGE.replace("{prompt}", CAPTION)}]}]
    text = judge.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, _ = process_vision_info(messages)
    inputs = judge.processor(text=[text], images=images, padding=True, return_tensors="pt")
    assert out["judge_text"] == [official_generate(judge.backbone, judge.processor, inputs)]
    assert out["rewards"] == [ur.final_score(out["judge_text"][0])[0]]
    assert len(out["verdict_parsed"]) == 1


@pytest.mark.parametrize("text, rewards, preferred, parsed", [
    ("Both images are equally good.", [0.5, 0.5], None, True),  # the judge's tie verdict
    ("The two pictures differ.", [0.5, 0.5], None, False),  # no verdict: the official rule's tie
    ("Image 2 is better.", [0.0, 1.0], 1, True),
])
def test_a_tie_verdict_is_preferred_null(judge, monkeypatch, text, rewards, preferred, parsed):
    """What the judge answers is put in its place (the random tiny model says nothing useful);
    the rest is the preset's own path from the text to the output dict."""
    monkeypatch.setattr(judge, "generate", lambda questions: [text] * len(questions))
    record = {"id": "t", "prompt": CAPTION, "candidates": [{"images": [p]} for p in PHOTOS]}
    [out] = judge.score([record], media_root=IMAGES)
    assert (out["rewards"], out["preferred"], out["verdict_parsed"]) == (rewards, preferred, [parsed])


def test_options_that_change_the_official_run_are_refused():
    with pytest.raises(ConfigError, match="criteria"):
        mmreward.load("tiny", preset="unifiedreward", criteria="be nice")
    with pytest.raises(ConfigError, match="point-score"):
        mmreward.load("tiny", preset="unifiedreward-think", task="point-score")
    with pytest.raises(ConfigError, match="generative"):
        mmreward.load("tiny", mode="scalar", preset="unifiedreward")


@pytest.mark.slow
def test_qwen3_vl_judge_uses_its_qwen_vl_utils_recipe(qwen3_dir):
    from qwen_vl_utils import process_vision_info

    judge = mmreward.load(str(qwen3_dir), preset="unifiedreward", device="cpu", max_new_tokens=TOKENS)
    record = {"id": "q", "prompt": CAPTION, "candidates": [{"images": [p]} for p in PHOTOS]}
    [out] = judge.score([record], media_root=IMAGES)
    messages = [{"role": "user", "content": [{"type": "image", "image": Image.open(IMAGES / p)} for p in PHOTOS]
                 + [{"type": "text", "text": P.PAIR_RANK_IMAGE.replace("{prompt}", CAPTION)}]}]
    text = judge.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # Qwen3-VL's documented qwen-vl-utils call: 16 px patches (32 px grid), no second resize
    images, videos, kwargs = process_vision_info(messages, image_patch_size=16, return_video_kwargs=True,
                                                 return_video_metadata=True)
    assert all(im.size[0] % 32 == 0 and im.size[1] % 32 == 0 for im in images)
    inputs = judge.processor(text=[text], images=images, videos=videos, do_resize=False, return_tensors="pt", **kwargs)
    ours = judge.inputs(judge.question(CAPTION, [("images", IMAGES / p) for p in PHOTOS],
                                       ur.RECIPES[("unifiedreward", "pair-rank", "image")]))
    assert ours["input_ids"].tolist() == inputs["input_ids"].tolist()
    assert torch.equal(ours["pixel_values"], inputs["pixel_values"])
    assert out["judge_text"] == [official_generate(judge.backbone, judge.processor, inputs)]


@pytest.mark.slow
def test_qwen3_vl_think_sends_jpeg_images_and_frames(qwen3_dir, clip_root):
    """UnifiedReward-Think-qwen3vl's scripts JPEG-encode (quality 95) the images, and 8 frames per
    video at linspace(0, n - 1, 8).astype(int), and send them as images before the text."""
    import io

    import numpy as np

    think = mmreward.load(str(qwen3_dir), preset="unifiedreward-think", device="cpu", max_new_tokens=TOKENS)
    assert think.variant == "think-qwen3vl"
    frames = ur.jpeg_frames(clip_root / SMALL_CLIPS[0])
    assert len(frames) == 8
    import decord

    raw = decord.VideoReader(str(clip_root / SMALL_CLIPS[0])).get_batch(
        np.linspace(0, 59, 8).astype(int).tolist()).asnumpy()  # [0, 8, 16, 25, 33, 42, 50, 59]
    buf = io.BytesIO()
    Image.fromarray(raw[3]).save(buf, format="JPEG", quality=95)
    assert np.array_equal(np.asarray(frames[3]), np.asarray(Image.open(buf).convert("RGB")))
    record = {"id": "t", "prompt": CAPTION, "candidates": [{"images": [p]} for p in PHOTOS]}
    [out] = think.score([record], media_root=IMAGES)
    encoded = [ur.jpeg(Image.open(IMAGES / p)) for p in PHOTOS]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {
        "type": "text", "text": P.THINK_QWEN3VL_PAIR_RANK_IMAGE.replace("{prompt}", CAPTION)}]}]
    text = think.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = think.processor(text=[text], images=encoded, padding=True, return_tensors="pt")
    assert out["judge_text"] == [official_generate(think.backbone, think.processor, inputs)]
    assert out["verdict_parsed"] == [ur.think_verdict(out["judge_text"][0], "Image")[1]]
