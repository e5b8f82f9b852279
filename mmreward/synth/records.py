"""Writing synthetic records as JSONL, and the pointwise view of a pair.

Pair records follow the scoring record format of docs/architecture.md (paths relative to the output
directory, i.e. `--media-root OUT`), plus `"chosen": 0|1`, the index of the
preferred candidate, and `"meta"`, what was drawn (for debugging and analysis;
scorers ignore it).
"""
from __future__ import annotations

import json
from pathlib import Path


def split_counts(n: int, test_fraction: float) -> tuple[int, int]:
    """(n_train, n_test); the test part is round(n * test_fraction) records."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test fraction must be in [0, 1), got {test_fraction}")
    n_test = round(n * test_fraction)
    return n - n_test, n_test


def write_records(out_dir: str | Path, records: list[dict], test_fraction: float = 0.0) -> list[Path]:
    """OUT/pairs.jsonl, or OUT/train.jsonl + OUT/test.jsonl (the last records are the test part).

    Pairs are drawn independently from per-index seeds, so taking the tail as the
    test set is as random as any shuffle, and stays stable when n grows.
    """
    out_dir = Path(out_dir)
    if test_fraction == 0.0:
        return [_write_jsonl(out_dir / "pairs.jsonl", records)]
    n_train, _ = split_counts(len(records), test_fraction)
    return [_write_jsonl(out_dir / "train.jsonl", records[:n_train]),
            _write_jsonl(out_dir / "test.jsonl", records[n_train:])]


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


def to_pointwise(records: list[dict]) -> list[dict]:
    """Each pair as two one-candidate records with `"label"`: 1.0 chosen, 0.0 rejected.

    Ids become "<pair id>/<position>" so a score can be traced back to its pair.
    """
    out = []
    for r in records:
        for k, cand in enumerate(r["candidates"]):
            point = {key: v for key, v in r.items() if key not in ("candidates", "chosen", "meta")}
            point.update(id=f"{r['id']}/{k}", candidates=[cand], label=1.0 if k == r["chosen"] else 0.0)
            out.append(point)
    return out
