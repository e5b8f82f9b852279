"""An ensemble of reward models: the mean of their rewards (and of each named dimension).

    ens = Ensemble([mmreward.load("runs/bt-seed0"), mmreward.load("runs/bt-seed1")])
    ens.score(records, media_root="data/")

Rewards of different models live on different scales; pass `normalize=True` to
z-score each model's rewards over the records scored together before averaging.
A record that any member fails on is an error line, with that member's message.
"""
from __future__ import annotations

import statistics

from mmreward.scoring.outputs import scored


class Ensemble:
    def __init__(self, models: list, normalize: bool = False):
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.models, self.normalize = list(models), normalize

    def score(self, records, media_root=None, batch_size: int = 8, progress: bool = False) -> list[dict]:
        records = list(records)
        per_model = [m.score(records, media_root, batch_size, progress) for m in self.models]
        if self.normalize:
            per_model = [_zscore(outs) for outs in per_model]
        return [_average(outs) for outs in zip(*per_model)]


def _zscore(outs: list[dict]) -> list[dict]:
    values = [r for o in outs if "rewards" in o for r in o["rewards"]]
    if len(values) < 2:
        return outs
    mean, sd = statistics.fmean(values), statistics.pstdev(values) or 1.0
    return [dict(o, rewards=[(r - mean) / sd for r in o["rewards"]]) if "rewards" in o else o for o in outs]


def _mean_lists(lists: list[list[float]]) -> list[float]:
    return [statistics.fmean(col) for col in zip(*lists)]


def _average(outs: tuple[dict, ...]) -> dict:
    failed = next((o for o in outs if "error" in o), None)
    if failed is not None:
        return {"id": failed.get("id"), "error": failed["error"]}
    dims = set.intersection(*(set(o.get("dimensions", {})) for o in outs))
    means = {d: _mean_lists([o["dimensions"][d] for o in outs]) for d in sorted(dims)}
    return {"id": outs[0]["id"], **scored(_mean_lists([o["rewards"] for o in outs]), means)}
