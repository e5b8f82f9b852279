"""Read a benchmark's native file into a list of row dicts.

`row` (the key predictions use) is the 0-based position in the file as given: the
line of a JSONL (blank lines are not rows), the element of a JSON list, the data row
of a CSV or parquet. The format is chosen by the file suffix.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from eval.errors import DataError
from mmreward.scoring.jsonl import read_jsonl


def read_rows(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    if suffix not in readers:
        raise DataError(f"{path}: unknown data format {suffix!r} (use .jsonl, .json, .csv or .parquet)")
    rows = readers[suffix](path)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {i} is a {type(row).__name__}, expected an object")
    return rows


def _read_jsonl(path: Path) -> list:
    """Strict JSON lines (`mmreward.scoring.jsonl.read_jsonl`: the scoring file's rules and errors)."""
    return [row for _, row in read_jsonl(path, DataError)]


def _read_json(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of items, got {type(data).__name__}")
    return data


def _read_csv(path: Path) -> list:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [dict(r) for r in csv.DictReader(f)]


def _read_parquet(path: Path) -> list:
    import pyarrow.parquet as pq  # only parquet users pay for the import

    return pq.read_table(path).to_pylist()
