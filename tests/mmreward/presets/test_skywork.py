"""Skywork-VL-Reward loads from its layout (value_head.safetensors) and scores as its model card.

The expected values are recomputed here: the card's chat text (user turn: image, question;
assistant turn: the answer; no generation prompt) written out from the Qwen2-VL chat template,
the image resized by qwen-vl-utils and turned into pixels by the 4.5x image processor's
arithmetic, the full model forward, and the value head (float32, as trl's ValueHead) applied
to the last non-padding token.
"""
from __future__ import annotations

import pytest
import torch

from mmreward.registry import find_loader
from official_layouts import IMAGES, needs_data, official_pixels

pytestmark = needs_data
QUESTION = "What is the man in the yellow shirt doing?"
ANSWERS = ["He is ironing clothes on a board fixed to the back of a taxi.", "He sleeps."]


def card_text(question: str, answer: str, image_tokens: int) -> str:
    return ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
            f"<|vision_start|>{'<|image_pad|>' * image_tokens}<|vision_end|>{question}<|im_end|>\n"
            f"<|im_start|>assistant\n{answer}<|im_end|>\n")


@torch.inference_mode()
def card_values(sky: dict, question: str, answers: list[str]) -> list[float]:
    from qwen_vl_utils import fetch_image

    model, tok = sky["model"], sky["processor"].tokenizer
    pixels, grid = official_pixels(fetch_image({"image": str(IMAGES / "extreme_ironing.jpg")}))
    ids = [tok(card_text(question, a, grid[0] * grid[1] * grid[2] // 4))["input_ids"] for a in answers]
    length = max(map(len, ids))
    mask = torch.tensor([[1] * len(i) + [0] * (length - len(i)) for i in ids])
    ids = torch.tensor([i + [tok.pad_token_id] * (length - len(i)) for i in ids])
    hidden = model.model(input_ids=ids, attention_mask=mask, pixel_values=torch.cat([pixels] * len(answers)),
                         image_grid_thw=torch.tensor([grid] * len(answers)),
                         mm_token_type_ids=(ids == model.config.image_token_id).long()).last_hidden_state
    last = hidden[torch.arange(len(answers)), mask.sum(-1) - 1].float()
    w, b = sky["head"]["v_head.summary.weight"].float(), sky["head"]["v_head.summary.bias"].float()
    return (last @ w.T + b).squeeze(-1).tolist()


@pytest.fixture(scope="module")
def skywork_rm(skywork):
    import mmreward

    return mmreward.load(str(skywork["dir"]), device="cpu", dtype="float32")


def test_layout_is_recognised(skywork, tmp_path):
    from mmreward.presets import skywork as module

    assert find_loader(str(skywork["dir"])) is module.load
    (tmp_path / "config.json").write_text("{}")
    from safetensors.torch import save_file

    save_file({"summary.weight": torch.zeros(1, 4)}, str(tmp_path / "value_head.safetensors"))
    assert not module.detect(tmp_path)  # a value head under other names is not Skywork's


@pytest.mark.slow
def test_rewards_equal_the_model_card_computation(skywork, skywork_rm):
    record = {"id": "s", "prompt": QUESTION, "images": ["extreme_ironing.jpg"],
              "candidates": [{"text": a} for a in ANSWERS]}
    expected = card_values(skywork, QUESTION, ANSWERS)
    batched = skywork_rm.score([record], media_root=IMAGES, batch_size=2)[0]
    single = skywork_rm.score([record], media_root=IMAGES, batch_size=1)[0]
    assert batched["rewards"] == pytest.approx(expected, abs=1e-4)
    assert single["rewards"] == pytest.approx(expected, abs=1e-4)
    assert batched["preferred"] == int(expected[1] > expected[0])
    assert abs(expected[0] - expected[1]) > 1e-3  # the answers are told apart


@pytest.mark.slow
def test_the_same_answer_twice_is_a_tie(skywork_rm):
    record = {"id": "tie", "prompt": QUESTION, "images": ["extreme_ironing.jpg"],
              "candidates": [{"text": ANSWERS[0]}] * 2}
    # one answer per pass: two copies of an image in one batch may differ in the last bits
    out = skywork_rm.score([record], media_root=IMAGES, batch_size=1)[0]
    assert out["rewards"][0] == out["rewards"][1] and out["preferred"] is None


def test_input_ids_are_the_cards_text(skywork, skywork_rm):
    from mmreward.presets import qwen_media

    msgs = skywork_rm.messages({"prompt": QUESTION, "images": ["extreme_ironing.jpg"]}, ANSWERS[0], IMAGES)
    text = skywork_rm.processor.apply_chat_template(qwen_media.strip_media(msgs), tokenize=False,
                                                    add_generation_prompt=False)
    media = qwen_media.processor_inputs(skywork_rm.processor, msgs)
    batch = skywork_rm.processor(text=[text], return_tensors="pt", **media)
    grid = batch["image_grid_thw"][0].tolist()
    assert batch["input_ids"][0].tolist() == skywork["processor"].tokenizer(
        card_text(QUESTION, ANSWERS[0], grid[0] * grid[1] * grid[2] // 4))["input_ids"]


def test_media_candidates_are_refused_per_record(skywork_rm):
    out = skywork_rm.score([{"id": "g", "prompt": "a pier", "candidates": [{"images": ["waterview.jpg"]}]},
                            {"id": "m", "prompt": "q", "images": ["missing.jpg"], "candidates": [{"text": "a"}]}],
                           media_root=IMAGES)
    assert "scores text answers" in out[0]["error"]
    assert "'missing.jpg' not found" in out[1]["error"]
