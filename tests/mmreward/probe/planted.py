"""The clean reference reward the planted weaknesses (`mmreward.probe.planted`) are planted on.

`ReferenceReward` is a small, transparent reward on the interface: a text candidate scores the
fraction of the prompt's content words it contains (a content-free reply scores 0, padding adds
nothing), an image candidate scores its coarse structure (the s.d. of 8x8 block means of its
luminance: a blank, black or noise image scores ~0).
"""
from __future__ import annotations

import re

import numpy as np

from mmreward.errors import RecordError
from mmreward.probe.prompt import content_words
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.media import MediaOptions, open_image


def structure(value) -> float:
    grey = np.asarray(open_image(value, MediaOptions()).convert("L").resize((64, 64)), dtype=np.float64) / 255
    blocks = grey.reshape(8, 8, 8, 8).mean(axis=(1, 3))
    return float(blocks.std())


def overlap(prompt: str, text: str) -> float:
    want = {w.lower() for w in content_words(prompt)}
    have = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    return len(want & have) / max(1, len(want))


class ReferenceReward(BaseRewardModel):
    kind = "scalar"
    name = "reference"

    def score_chunk(self, records, media_root=None, batch_size=8):
        out = []
        for rec in records:
            rewards = []
            for cand in rec["candidates"]:
                if cand.get("videos"):
                    raise RecordError("the reference reward scores text and images only")
                if isinstance(cand.get("text"), str):
                    rewards.append(overlap(rec["prompt"], cand["text"]))
                else:
                    rewards.append(float(np.mean([structure(p) for p in cand["images"]])))
            out.append({"id": rec.get("id"), "rewards": rewards,
                        "preferred": max(range(len(rewards)), key=rewards.__getitem__)})
        return out
