"""Order probes: a pairwise judge should follow its candidates, not their positions."""
from __future__ import annotations

from mmreward.probe.context import ProbeContext, pair
from mmreward.probe.spec import Case, Probe


def _swap(ctx: ProbeContext, i: int) -> list[Case]:
    rec = ctx.records[i]
    if not pair(rec):
        return []
    return [Case(i, after={**rec, "candidates": rec["candidates"][::-1]}, mapping=[1, 0])]


def _identity(ctx: ProbeContext, i: int) -> list[Case]:
    rec = ctx.records[i]
    if not pair(rec):
        return []
    first = rec["candidates"][0]
    return [Case(i, after={**rec, "candidates": [first, dict(first)]})]


PROBES = [
    Probe("position_swap", "order", "invariant", "the two candidates swapped", _swap, needs="pair"),
    Probe("identity", "order", "tie", "the same candidate on both sides", _identity, needs="pair"),
]
