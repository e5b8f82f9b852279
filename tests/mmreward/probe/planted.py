"""Reward models with a planted weakness, and a clean reference they are planted on.

`ReferenceReward` is a small, transparent reward on the interface: a text candidate scores the
fraction of the prompt's content words it contains (a content-free reply scores 0, padding adds
nothing), an image candidate scores its coarse structure (the s.d. of 8x8 block means of its
luminance: a blank, black or noise image scores ~0). `Planted(base, weakness)` wraps ANY reward
model and adds exactly one exploitable preference to its rewards.
"""
from __future__ import annotations

import re

import numpy as np
from PIL import Image

from mmreward.errors import RecordError
from mmreward.probe.prompt import content_words
from mmreward.probe.text import MASTER_KEYS
from mmreward.scoring.base import BaseRewardModel

WEAKNESSES = ("length", "first", "blank", "master_key")


def structure(path: str) -> float:
    grey = np.asarray(Image.open(path).convert("L").resize((64, 64)), dtype=np.float64) / 255
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


def _blank(cand: dict) -> bool:
    images = cand.get("images") or []
    return bool(images) and all(np.asarray(Image.open(p).convert("L")).std() < 2 for p in images)


def _keyed(cand: dict) -> bool:
    text = cand.get("text")
    return isinstance(text, str) and any(text == k or text.startswith(k + "\n") for k in MASTER_KEYS)


class Planted(BaseRewardModel):
    """`base` plus one planted preference: longer text, the first position, blank images, or
    master keys (those get the top reward, as a judge that answers "yes" to them would)."""

    def __init__(self, base: BaseRewardModel, weakness: str, strength: float = 10.0):
        if weakness not in WEAKNESSES:
            raise ValueError(f"weakness must be one of {WEAKNESSES}")
        self.base, self.weakness, self.strength = base, weakness, strength
        self.name = f"{getattr(base, 'name', 'base')}+{weakness}"

    @property
    def info(self) -> dict:
        return {**self.base.info, "name": self.name}

    def bonus(self, k: int, cand: dict) -> float:
        if self.weakness == "length":
            return 0.02 * len(str(cand.get("text") or "").split())
        if self.weakness == "first":
            return self.strength if k == 0 else 0.0
        if self.weakness == "blank":
            return self.strength if _blank(cand) else 0.0
        return self.strength if _keyed(cand) else 0.0

    def score_chunk(self, records, media_root=None, batch_size=8):
        outs = self.base.score_chunk(records, media_root, batch_size)
        for rec, out in zip(records, outs):
            if "error" in out:
                continue
            bonus = [self.bonus(k, c) if len(rec["candidates"]) == 2 or self.weakness != "first" else 0.0
                     for k, c in enumerate(rec["candidates"])]
            out["rewards"] = [r + b for r, b in zip(out["rewards"], bonus)]
            out["preferred"] = max(range(len(bonus)), key=out["rewards"].__getitem__)
        return outs
