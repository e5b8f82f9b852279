"""What every probe sees: the records, their media, and the model's own judgement of them."""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from mmreward.probe.media import MediaStore


@dataclass
class ProbeContext:
    records: list[dict]  # the records with their media decoded (probe.media), or None where unusable
    baseline: list[dict | None]  # the model's output for each record (None where it failed)
    store: MediaStore
    info: dict
    seed: int = 0
    originals: list = field(default_factory=list)  # the records as given
    errors: list = field(default_factory=list)  # [{record, id, error}] of the unusable ones

    def usable(self, i: int) -> bool:
        return self.records[i] is not None and self.baseline[i] is not None

    def rewards(self, i: int) -> list[float]:
        return self.baseline[i]["rewards"]

    def winner(self, i: int) -> int:
        r = self.rewards(i)
        return max(range(len(r)), key=r.__getitem__)

    def loser(self, i: int) -> int:
        """The candidate the model likes least (for a tie, the second: a hack must break it)."""
        r = self.rewards(i)
        return min(reversed(range(len(r))), key=r.__getitem__)

    def rng(self, probe: str, i: int) -> np.random.Generator:
        """A stream per (seed, probe, record): a probe's perturbation of a record never depends
        on which other probes or records ran."""
        return np.random.default_rng([self.seed, zlib.crc32(probe.encode()), i])


def pair(record: dict) -> bool:
    return len(record["candidates"]) == 2


def hack_target(ctx: ProbeContext, i: int, has) -> tuple[dict, int, dict] | None:
    """(record, k, candidate k) for the candidate a hack is applied to: the loser of a pair (by
    the model's own judgement), the only candidate of a pointwise record; None when `has(candidate)`
    is false or the record has more than two candidates."""
    rec = ctx.records[i]
    if len(rec["candidates"]) > 2:
        return None
    k = ctx.loser(i) if pair(rec) else 0
    cand = rec["candidates"][k]
    return (rec, k, cand) if has(cand) else None


def replace_loser_media(name: str, key: str, change):
    """A hack probe that replaces each of the losing candidate's `key` ("images" / "videos")
    media by change(ctx, medium, record, rng)."""
    from mmreward.probe.spec import Case

    def make(ctx: ProbeContext, i: int) -> list:
        found = hack_target(ctx, i, lambda cand: bool(cand.get(key)))
        if found is None:
            return []
        rec, k, cand = found
        rng = ctx.rng(name, i)
        media = [change(ctx, medium, rec, rng) for medium in cand[key]]
        return [Case(i, after=replace_candidate(rec, k, {**cand, key: media}), target=k)]
    return make


def text_of(cand: dict) -> str | None:
    text = cand.get("text")
    return text if isinstance(text, str) else None


def replace_candidate(record: dict, k: int, cand: dict) -> dict:
    cands = list(record["candidates"])
    cands[k] = cand
    return {**record, "candidates": cands}


def single(record: dict, k: int, **changes) -> dict:
    """Record with only candidate k (a pointwise question for a judge), fields overridden."""
    return {**record, "candidates": [record["candidates"][k]], **changes}
