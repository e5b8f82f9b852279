"""HPSv3, ImageReward and VQAScore behind every interface: `score`, `combo:`, the Flow-GRPO adapter
(a sampler's image tensor) and best-of-N agree with each other on the same pixels. (The service:
tests/mmreward/serve/test_serve_unirl.py.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import mmreward
from mmreward.integrations.best_of_n import best_of_n
from mmreward.integrations.imagegen import GenerationReward

pytestmark = pytest.mark.slow
PROMPTS = ["a red fox in the snow", "a bowl of ramen"]


@pytest.fixture(scope="module")
def rewards(hpsv3_dir, imagereward_dir):
    return {"hpsv3": mmreward.load(f"hpsv3@{hpsv3_dir}", device="cpu"),
            "imagereward": mmreward.load(f"imagereward@{imagereward_dir}", device="cpu"),
            "vqascore": mmreward.load("vqascore@tiny", device="cpu")}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """4 'generated' images: an NCHW float tensor in [0, 1] (what a diffusion sampler returns) and the
    same pixels as PNG files."""
    root = tmp_path_factory.mktemp("gen")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (4, 96, 128, 3), dtype=np.uint8)
    paths = []
    for k, image in enumerate(pixels):
        Image.fromarray(image).save(root / f"{k}.png")
        paths.append(str(root / f"{k}.png"))
    return torch.tensor(pixels).permute(0, 3, 1, 2).float() / 255, paths


def file_scores(model, paths, prompts) -> list[float]:
    out = model.score([{"id": k, "prompt": prompts[k], "candidates": [{"images": [p]}]} for k, p in enumerate(paths)],
                      media_root="/")
    return [o["rewards"][0] for o in out]


@pytest.mark.parametrize("name", ["hpsv3", "imagereward", "vqascore"])
def test_flow_grpo_adapter_and_best_of_n_agree_with_score(rewards, batch, name):
    model, (nchw, paths) = rewards[name], batch
    prompts = [PROMPTS[k // 2] for k in range(4)]
    expected = file_scores(model, paths, prompts)
    scores, info = GenerationReward(model)(nchw, prompts, [{}] * 4)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    grouped, info = GenerationReward(model, group_size=2)(nchw, PROMPTS)
    np.testing.assert_allclose(grouped, expected, rtol=1e-5, atol=1e-6)
    assert info["preferred"] == [int(np.argmax(expected[:2])), int(np.argmax(expected[2:]))]
    if name == "hpsv3":  # mu and sigma reach the RL side too
        np.testing.assert_allclose(info["dimensions"]["mu"], expected, rtol=1e-5, atol=1e-6)
        assert len(info["dimensions"]["sigma"]) == 4
    ranking = best_of_n(model, PROMPTS[0], [Image.open(p) for p in paths])
    own = file_scores(model, paths, [PROMPTS[0]] * 4)
    assert ranking.method == "pointwise"  # VQAScore too: a P(yes) per image, never pairs
    assert ranking.order == sorted(range(4), key=lambda k: -own[k])
    assert sorted(ranking.ranks) == [1, 2, 3, 4] and ranking.ranks[ranking.best] == 1


def test_a_combo_of_the_three_is_their_weighted_sum(rewards, batch, hpsv3_dir, imagereward_dir):
    _, paths = batch
    combo = mmreward.load(f"combo:hpsv3@{hpsv3_dir}=1,imagereward@{imagereward_dir}=0.5,vqascore@tiny=2",
                          device="cpu")
    records = [{"id": "r", "prompt": PROMPTS[0], "candidates": [{"images": [p]} for p in paths]}]
    (out,) = combo.score(records, media_root="/")
    parts = {name: rm.score(records, media_root="/")[0] for name, rm in rewards.items()}
    names = {"hpsv3": f"hpsv3@{hpsv3_dir}", "imagereward": f"imagereward@{imagereward_dir}",
             "vqascore": "vqascore@tiny"}
    total = sum(w * np.array(parts[n]["rewards"]) for n, w in (("hpsv3", 1), ("imagereward", 0.5), ("vqascore", 2)))
    np.testing.assert_allclose(out["rewards"], total, atol=1e-5)
    for name, part in parts.items():
        np.testing.assert_allclose(out["dimensions"][names[name]], part["rewards"], atol=1e-6)
    np.testing.assert_allclose(out["dimensions"][f"{names['hpsv3']}/sigma"], parts["hpsv3"]["dimensions"]["sigma"],
                               atol=1e-6)
