"""Rationale first: greedy reasoning, then P(yes) read after it; config criteria as the default."""
from __future__ import annotations

import pytest
import torch

import mmreward
from mmreward.scoring.batching import collate
from mmreward.models.config import RewardConfig
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import pairwise_question
from mmreward.scoring.rationale import ANSWER_CUE, clean, generate_rationales
from mmreward.scoring.records import load_item


@pytest.fixture(scope="module")
def rationale_rm():
    return mmreward.load("tiny", "generative", device="cpu", rationale_tokens=6)


@pytest.mark.slow
def test_reward_is_p_yes_after_the_models_own_rationale(rationale_rm, image_pairs):
    root, records = image_pairs
    out = rationale_rm.score(records[:2], media_root=root)
    for rec, res in zip(records[:2], out):
        assert len(res["rationales"]) == len(res["p_yes"]) == 2  # both orders, one rationale each
        item = load_item(rec, MediaOptions(media_root=root))
        a, b = item.candidates
        prompts = [pairwise_question(item, a, b, rationale=True), pairwise_question(item, b, a, rationale=True)]
        assert "Explain your judgement" in prompts[0].messages[0]["content"][-1]["text"]
        again = generate_rationales(rationale_rm.module.backbone, rationale_rm.processor, prompts[:1], 6)
        assert again == res["rationales"][:1]  # greedy: batched and alone agree
        batch = collate(rationale_rm.processor, prompts, extra_text=[r + ANSWER_CUE for r in res["rationales"]])
        with torch.no_grad():
            p = rationale_rm.module(**batch)
        assert torch.allclose(p, torch.tensor(res["p_yes"]), atol=1e-5)
        assert res["rewards"][0] == pytest.approx((p[0] + 1 - p[1]).item() / 2, abs=1e-5)


def test_left_padded_generation_matches_one_prompt_at_a_time(rationale_rm, image_pairs):
    root, records = image_pairs
    prompts = []
    for rec in records[:3]:
        item = load_item(rec, MediaOptions(media_root=root))
        item.prompt += " and more words" * len(prompts)  # rows of different lengths
        prompts.append(pairwise_question(item, *item.candidates, rationale=True))
    rm = rationale_rm
    tok, backbone = rm.processor.tokenizer, rm.module.backbone
    writes, left_padded = [], []  # padding_side writes to the shared tokenizer; each batch's padding

    class Watched(type(tok)):
        def __setattr__(self, name, value):
            if name == "padding_side":
                writes.append(value)
            super().__setattr__(name, value)

    generate = backbone.generate

    def spying_generate(**batch):
        left_padded.append(bool(batch["attention_mask"][:, -1].all()))
        return generate(**batch)

    tok.__class__, backbone.generate = Watched, spying_generate
    try:
        batched = generate_rationales(backbone, rm.processor, prompts, 8)
        alone = [generate_rationales(backbone, rm.processor, [p], 8)[0] for p in prompts]
    finally:
        tok.__class__ = Watched.__bases__[0]
        del backbone.generate
    assert batched == alone and left_padded == [True] * 4
    # left padding is the call's own: the tokenizer that other callers share is never changed (26.13)
    assert writes == [] and tok.padding_side == "right"


def test_clean_cuts_an_answer_line_the_model_wrote():
    assert clean("  blue is closer.\nAnswer:\nyes") == "blue is closer."
    assert clean("no cue here ") == "no cue here"


def test_rationale_tokens_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="rationale_tokens"):
        RewardConfig(mode="generative", rationale_tokens=-1)


@pytest.mark.slow
def test_configured_criteria_fill_in_only_for_records_without_their_own(image_pairs):
    root, records = image_pairs
    rm = mmreward.load("tiny", "generative", device="cpu", criteria="sharpness only")
    opts = MediaOptions(media_root=root)
    plain = rm.scorer.plan(load_item(records[0], opts)).prompts[0]
    own = rm.scorer.plan(load_item({**records[0], "criteria": "colour match"}, opts)).prompts[0]
    assert "sharpness only" in plain.messages[0]["content"][-1]["text"]
    assert "colour match" in own.messages[0]["content"][-1]["text"]
    assert "sharpness only" not in own.messages[0]["content"][-1]["text"]


@pytest.mark.slow
def test_score_cli_pointwise_with_rationales(tmp_path, image_pairs):
    import json
    import os
    import subprocess
    import sys

    root, records = image_pairs
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in records[:2]))
    res = subprocess.run([sys.executable, "-m", "mmreward.cli", "score", "--mode", "generative",
                          "--form", "pointwise", "--rationale-tokens", "4", "--input", str(inp),
                          "--output", str(out), "--media-root", str(root), "--no-progress"],
                         capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [r["id"] for r in records[:2]]
    for x in lines:
        assert x["rewards"] == x["p_yes"] and len(x["rationales"]) == 2  # one question per candidate
        assert all(isinstance(t, str) for t in x["rationales"])
