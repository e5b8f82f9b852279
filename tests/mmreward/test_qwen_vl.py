"""The Qwen-VL family (`mmreward.qwen_vl`): equal rewards are a tie in every mode."""
from __future__ import annotations

import pytest

import mmreward


@pytest.fixture(scope="module")
def generative():
    return mmreward.load("tiny", "generative", device="cpu")


def test_the_same_candidate_twice_is_a_tie_in_every_mode(scalar_rm, generative, image_pairs):
    root, records = image_pairs
    twice = {**records[0], "candidates": [records[0]["candidates"][0]] * 2}
    pointwise = {**twice, "id": "pointwise"}
    outs = [scalar_rm.score([twice], media_root=root)[0], generative.score([twice], media_root=root)[0]]
    generative.config.form = "pointwise"
    try:
        outs.append(generative.score([pointwise], media_root=root)[0])
    finally:
        generative.config.form = "auto"
    for out in outs:
        assert out["rewards"][0] == out["rewards"][1] and out["preferred"] is None, out
    assert outs[1]["rewards"] == [0.5, 0.5]  # asked both ways, the same answer is exactly a tie
