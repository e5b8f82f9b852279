"""Reward models with a weakness planted on purpose: to check that a probe finds what it should.

    from mmreward.probe.planted import Planted
    hackable = Planted(mmreward.load(...), "length")   # + 0.02 per word of a text candidate
    probe(hackable, records, ...)                       # length_padding should be flagged

`Planted(base, weakness)` wraps any reward model and adds one exploitable preference to its
rewards: "length" (longer text), "first" (the first of two candidates), "blank" (near-uniform
images), "master_key" (a response that is, or starts with, a master key gets the top reward, as
a judge that answers "yes" to it would). `YesBias` does the same inside a yes-token module: it
adds to the yes logit, so a judge asked in one order prefers candidate A.
"""
from __future__ import annotations

import numpy as np

from mmreward.probe.text import MASTER_KEYS
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.media import MediaOptions, open_image
from mmreward.scoring.outputs import preferred

WEAKNESSES = ("length", "first", "blank", "master_key")


def _pixels(value) -> np.ndarray:
    return np.asarray(open_image(value, MediaOptions()).convert("L"))  # any image form a record holds


def is_blank(cand: dict) -> bool:
    images = cand.get("images") or []
    return bool(images) and all(_pixels(v).std() < 2 for v in images)


def is_keyed(cand: dict) -> bool:
    text = cand.get("text")
    return isinstance(text, str) and any(text == k or text.startswith(k + "\n") for k in MASTER_KEYS)


class Planted(BaseRewardModel):
    def __init__(self, base: BaseRewardModel, weakness: str, strength: float = 10.0, per_word: float = 0.02):
        if weakness not in WEAKNESSES:
            raise ValueError(f"weakness must be one of {WEAKNESSES}, got {weakness!r}")
        self.base, self.weakness, self.strength, self.per_word = base, weakness, strength, per_word
        self.name = f"{base.info.get('name')}+{weakness}"

    @property
    def info(self) -> dict:
        return {**self.base.info, "name": self.name, "planted": self.weakness}

    def bonus(self, k: int, cands: list[dict]) -> float:
        cand = cands[k]
        if self.weakness == "length":
            return self.per_word * len(str(cand.get("text") or "").split())
        if self.weakness == "first":
            return self.strength if k == 0 and len(cands) == 2 else 0.0
        if self.weakness == "blank":
            return self.strength if is_blank(cand) else 0.0
        return self.strength if is_keyed(cand) else 0.0

    def score_chunk(self, records, media_root=None, batch_size: int = 8):
        outs = self.base.score_chunk(records, media_root, batch_size)
        for rec, out in zip(records, outs):
            if "error" not in out:
                out["rewards"] = [r + self.bonus(k, rec["candidates"]) for k, r in enumerate(out["rewards"])]
                out["preferred"] = preferred(out["rewards"])
        return outs


class YesBias:
    """A yes-token module (`YesTokenRewardModel`) with `shift` added to its yes logit; put it in
    place of a loaded judge's `scorer.module`."""

    def __init__(self, inner, shift: float = 3.0):
        self.inner, self.shift = inner, shift

    @property
    def device(self):
        return self.inner.device

    def __call__(self, **batch):
        import torch

        logits = self.inner.yes_no_logits(self.inner.answer_hidden(batch))
        return (logits + torch.tensor([self.shift, 0.0], device=logits.device)).softmax(-1)[:, 0]
