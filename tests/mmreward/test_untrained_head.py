"""A plain VLM directory loads in scalar mode with a fresh head, and says so: a warning at load,
`info["untrained_head"]`, and `"untrained_head": true` on every scored line."""
from __future__ import annotations

import json
import logging

import pytest

import mmreward
from mmreward.scoring.score_file import score_file


@pytest.mark.slow
def test_plain_vlm_scores_are_marked_untrained(tiny_dir, image_pairs, tmp_path, caplog):
    root, records = image_pairs
    with caplog.at_level(logging.WARNING):
        rm = mmreward.load(str(tiny_dir), "scalar", device="cpu")
    assert "UNTRAINED" in caplog.text and "reward_head.safetensors" in caplog.text
    assert rm.info["untrained_head"] is True
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records[:2]) + '{"id": "bad"}\n')
    score_file(rm, str(src), str(dst), str(root), 4)
    lines = [json.loads(x) for x in dst.read_text().splitlines()]
    assert [x.get("untrained_head") for x in lines] == [True, True, None]  # the error line has no score

    # once the head is saved with the checkpoint it is a trained (if random) model's: no marking
    rm.save_pretrained(tmp_path / "with_head")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        saved = mmreward.load(str(tmp_path / "with_head"), device="cpu")
    assert "UNTRAINED" not in caplog.text
    assert "untrained_head" not in saved.info
    out = saved.score(records[:1], media_root=root)[0]
    assert "untrained_head" not in out
    assert out["rewards"] == rm.score(records[:1], media_root=root)[0]["rewards"]


@pytest.mark.slow
def test_generative_mode_is_not_marked(image_pairs):
    root, records = image_pairs
    gen = mmreward.load("tiny", "generative", device="cpu")
    assert "untrained_head" not in gen.info
    assert "untrained_head" not in gen.score(records[:1], media_root=root)[0]
