"""Generation-RL groups by content: a flow_grpo-shaped sampler's shuffled repeats, any batch size."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmreward.integrations.imagegen import GenerationReward
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.media import MediaOptions, open_image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30),
           "purple": (140, 40, 160), "orange": (240, 140, 20)}


class ColourJudge(BaseRewardModel):
    """Reward 1 for a candidate whose image has its record's prompt colour, else 0: a sample judged
    against another sample's prompt (or image) scores 0. Candidates of one record must share one
    prompt by construction; their count is recorded."""

    kind = "test"

    def __init__(self):
        self.sizes = []

    def score_chunk(self, records, media_root=None, batch_size=8):
        outs = []
        for rec in records:
            want = np.array(COLOURS[rec["prompt"].split()[1]])
            rewards = [float(np.abs(np.asarray(open_image(c["images"][0], MediaOptions())).reshape(-1, 3).mean(0) - want).max() < 20)
                       for c in rec["candidates"]]
            self.sizes.append(len(rewards))
            outs.append({"id": rec["id"], "rewards": rewards, "preferred": 0})
        return outs


def k_repeat_batches(prompts: list[str], k: int, batch_size: int, replicas: int, seed: int) -> list[list[int]]:
    """Batches of prompt indices shaped like flow_grpo's DistributedKRepeatSampler
    (flow_grpo/sampler.py): every prompt k times, the whole step shuffled, then cut into one
    batch per replica."""
    g = torch.Generator().manual_seed(seed)
    per_step = batch_size * replicas
    m = math.lcm(k * len(prompts), per_step) // k  # prompts drawn per epoch, as the sampler does
    chosen = [i % len(prompts) for i in torch.randperm(m, generator=g).tolist()]
    repeated = [i for i in chosen for _ in range(k)]
    shuffled = [repeated[i] for i in torch.randperm(len(repeated), generator=g).tolist()]
    return [shuffled[s:s + batch_size] for s in range(0, len(shuffled), batch_size)]


def images_for(indices: list[int], prompts: list[str], rng) -> torch.Tensor:
    """NCHW floats: each sample a noisy field of its own prompt's colour."""
    out = []
    for i in indices:
        colour = np.array(COLOURS[prompts[i].split()[1]], dtype=np.float32)
        out.append(np.clip(colour + rng.normal(0, 4, (16, 16, 3)), 0, 255) / 255)
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float()


@pytest.mark.parametrize("batch_size", [8, 9])
def test_flow_grpo_shaped_batches_judge_every_sample_against_its_own_prompt(batch_size):
    prompts = [f"a {c} kite" for c in COLOURS]
    judge = ColourJudge()
    reward = GenerationReward(judge, group_size=4)
    rng = np.random.default_rng(batch_size)
    batches = k_repeat_batches(prompts, k=4, batch_size=batch_size, replicas=2, seed=batch_size)
    assert any(len(set(b)) < len(b) < 4 * len(set(b)) for b in batches)  # groups split across batches
    for batch in batches:
        texts = [prompts[i] for i in batch]
        scores, info = reward(images_for(batch, prompts, rng), texts, [{} for _ in batch])
        assert scores == [1.0] * len(batch)  # every sample judged against its own prompt and image
        assert sorted(i for g in info["groups"] for i in g) == list(range(len(batch)))
        for group in info["groups"]:
            assert len({texts[i] for i in group}) == 1 and len(group) <= 4
        assert len(info["groups"]) == len(set(texts))  # one group per prompt present (4 copies at most)
    assert max(judge.sizes) >= 2  # copies of a prompt in one batch were judged together


def test_same_prompt_with_other_metadata_is_another_group_and_big_groups_split():
    prompts = ["a red kite"] * 6 + ["a blue kite"]
    meta = [{"seed": 1}] * 5 + [{"seed": 2}, {}]
    reward = GenerationReward(ColourJudge(), group_size=4)
    images = images_for([0] * 6 + [1], ["a red kite", "a blue kite"], np.random.default_rng(0))
    scores, info = reward(images, prompts, meta)
    assert info["groups"] == [[0, 1, 2, 3], [4], [5], [6]] and scores == [1.0] * 7
    # one prompt for K consecutive samples is taken as K copies
    _, info = reward(images[:4], ["a red kite"], None)
    assert info["groups"] == [[0, 1, 2, 3]]


@pytest.mark.slow
def test_grouped_scores_on_the_tiny_model_equal_scoring_each_group(scalar_rm):
    prompts = ["a red fox", "a blue car", "a red fox", "a red fox", "a blue car"]
    images = torch.rand(5, 3, 56, 56, generator=torch.Generator().manual_seed(0))
    scores, info = GenerationReward(scalar_rm, group_size=4)(images, prompts)
    assert info["groups"] == [[0, 2, 3], [1, 4]]
    for group, preferred in zip(info["groups"], info["preferred"]):
        want = scalar_rm.score([{"prompt": prompts[group[0]],
                                 "candidates": [{"images": [images[i]]} for i in group]}])[0]
        assert [scores[i] for i in group] == pytest.approx(want["rewards"], abs=1e-6)
        assert preferred == want["preferred"]
