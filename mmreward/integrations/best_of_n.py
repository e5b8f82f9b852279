"""Best-of-N: rank N candidates for one prompt and return the order and the rewards.

    ranking = best_of_n("tiny", "a red fox in snow", [img0, img1, img2, img3])
    ranking.best, ranking.order, ranking.rewards, ranking.ranks  # ranks: 1-based, per candidate

Candidates may be texts, images (any form a record accepts), or candidate dicts
(`{"text": ..., "images": [...], "videos": [...]}`). `method`:
- "pointwise": one record with N candidates; each is judged on its own (scalar head, or
  P(yes) of "does it satisfy the prompt?" in generative mode). N model prompts.
- "pairwise": every pair (i, j), i < j, is one two-candidate record, which a generative
  model judges in both orders (its `both_orders`, on by default), giving P(i beats j);
  a candidate's reward is its mean win probability against the others (Borda count).
  N(N-1) model prompts; `ranking.wins[i][j]` holds P(i beats j). (A scalar model's pair
  rewards become Bradley-Terry probabilities, sigmoid(r_i - r_j).)
- "auto" (default): pairwise for a generative model, pointwise otherwise.
Ties in reward keep the candidates' given order; `ranking.preferred` is None when the highest
reward is shared (a tie), as the output dicts' `"preferred"` is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from mmreward.errors import ConfigError
from mmreward.integrations.common import reward_model, reward_values
from mmreward.scoring.outputs import preferred as preferred_candidate


@dataclass
class Ranking:
    order: list[int]  # candidate indices, best first
    rewards: list[float]  # per candidate, in the given order
    method: str
    wins: list[list[float | None]] | None = None  # pairwise: P(row beats column)
    outputs: list[dict] = field(default_factory=list, repr=False)  # the model's raw output dicts

    @property
    def best(self) -> int:
        """The first candidate of `order` (on a tie at the top: the first given of the tied)."""
        return self.order[0]

    @property
    def preferred(self) -> int | None:
        """The candidate with the highest reward, None when several share it (the output
        contract's tie, `mmreward.scoring.outputs.preferred`): filter on this, not on `best`."""
        return preferred_candidate(self.rewards)

    @property
    def ranks(self) -> list[int]:
        """Each candidate's 1-based rank, in the given order: what ImageReward's `inference_rank`
        returns as its first list (THUDM/ImageReward, ImageReward/ImageReward.py)."""
        ranks = [0] * len(self.order)
        for position, k in enumerate(self.order):
            ranks[k] = position + 1
        return ranks


def as_candidate(value) -> dict:
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, dict):
        return value
    return {"images": [value]}


def is_generative(model) -> bool:
    info = model.info
    return (info.get("served") or info).get("kind") == "generative"


def best_of_n(model, prompt: str, candidates: list, *, images=None, videos=None, criteria: str | None = None,
              method: str = "auto", media_root=None, batch_size: int = 8, **load_kwargs) -> Ranking:
    """Rank `candidates` for `prompt` (with the prompt's own `images`/`videos`, if any)."""
    rm = reward_model(model, **load_kwargs)
    cands = [as_candidate(c) for c in candidates]
    if len(cands) < 1:
        raise ConfigError("best_of_n needs at least one candidate")
    if method == "auto":
        method = "pairwise" if is_generative(rm) and len(cands) > 1 else "pointwise"
    if method not in ("pointwise", "pairwise"):
        raise ConfigError(f"method must be auto, pointwise or pairwise, got {method!r}")
    base = {"prompt": prompt, "images": list(images or []), "videos": list(videos or [])}
    if criteria is not None:
        base["criteria"] = criteria
    if method == "pointwise":
        outputs = rm.score([{**base, "id": "best-of-n", "candidates": cands}], media_root, batch_size)
        rewards = reward_values(outputs, "raise", index=None)[0]
        wins = None
    else:
        pairs = [(i, j) for i in range(len(cands)) for j in range(i + 1, len(cands))]
        outputs = rm.score([{**base, "id": f"{i}-{j}", "candidates": [cands[i], cands[j]]} for i, j in pairs],
                           media_root, batch_size)
        wins = [[None] * len(cands) for _ in cands]
        generative = is_generative(rm)
        for (i, j), (r_i, r_j) in zip(pairs, reward_values(outputs, "raise", index=None)):
            # a generative pair's rewards are P(i better), P(j better); scalar rewards go through
            # Bradley-Terry: P(i beats j) = sigmoid(r_i - r_j)
            wins[i][j] = r_i if generative else 1 / (1 + math.exp(r_j - r_i))
            wins[j][i] = r_j if generative else 1 - wins[i][j]
        rewards = [sum(w for w in row if w is not None) / max(1, len(cands) - 1) for row in wins]
    order = sorted(range(len(cands)), key=lambda k: -rewards[k])  # stable: ties keep the given order
    return Ranking(order=order, rewards=rewards, method=method, wins=wins, outputs=outputs)
