"""The output dict of a scored record, built in one place (docs/architecture.md, "Scoring records").

Every model family, combo, the service and the adapters build their answers here, so the
contract holds everywhere:
- `{"id", "rewards": [one per candidate], "preferred": index or None, ...}`: `preferred` is the
  candidate with the highest reward, and None (JSON null) when that reward is shared: equal
  rewards, or a judge's tie verdict (which gives its candidates equal rewards). Best-of-N and
  data filtering read `preferred`; a tie read as `0` would be a silent preference for the first;
- `"dimensions": {name: [one per candidate]}` where the model has named outputs, then the
  family's own fields (`p_yes`, `judge_text`, ...);
- `{"id", "error"[, "retryable": true]}` for a record that cannot be scored.
"""
from __future__ import annotations

from collections.abc import Sequence


def preferred(rewards: Sequence[float]) -> int | None:
    """The index of the highest reward; None when several candidates share it (a tie)."""
    if not rewards:
        return None
    best = max(rewards)
    top = [i for i, r in enumerate(rewards) if r == best]
    return top[0] if len(top) == 1 else None


def scored(rewards: Sequence[float], dimensions: dict | None = None, **fields) -> dict:
    """A record's answer without its id (the chunk loop puts the id first): its rewards, the
    preferred candidate (None on a tie), its named dimensions (left out when there are none),
    then `fields` in the order given."""
    rewards = list(rewards)
    out = {"rewards": rewards, "preferred": preferred(rewards)}
    if dimensions:
        out["dimensions"] = {name: list(values) for name, values in dimensions.items()}
    out.update(fields)
    return out


def error_output(record_id, exc) -> dict:
    """The output of a record that cannot be scored (`exc`: a `mmreward.errors.RecordError`);
    `"retryable": true` marks a cause a resumed run tries again (a media file not found)."""
    out = {"id": record_id, "error": str(exc)}
    if getattr(exc, "retryable", False):
        out["retryable"] = True
    return out
