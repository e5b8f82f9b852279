"""Benchmark predictions (the input of `eval metrics`), as docs/architecture.md defines them
("Benchmark predictions").

One JSON object a line, keyed by `row` (the item's 0-based position in the data file);
each carries `rewards` ([r_a, r_b] or {dimension: [r_a, r_b]}), or `output` (judge
text), or `error` (the item could not be scored; it counts as skipped). Candidates are
in the data file's order. An echoed `id` is checked against the data, which catches a
predictions file written for another file or order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from eval.errors import DataError
from mmreward.scoring.jsonl import read_jsonl

OVERALL = "Overall"  # the dimension every benchmark without aspects reads


@dataclass
class Prediction:
    row: int
    id: object = None
    rewards: list | dict | None = None
    output: str | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None and (self.rewards is not None or self.output is not None)

    def pair(self, dimension: str = OVERALL) -> tuple[float, float] | None:
        """(r_a, r_b) for one dimension: its own entry, else the overall rewards."""
        if self.rewards is None:
            return None
        if isinstance(self.rewards, list):
            return self.rewards[0], self.rewards[1]
        pair = self.rewards.get(dimension) or self.rewards.get(OVERALL)
        if pair is None:
            raise DataError(
                f"row {self.row}: rewards give neither {dimension!r} nor {OVERALL!r} "
                f"(have {sorted(self.rewards)})"
            )
        return pair[0], pair[1]


def _reward_pair(value: object, context: str) -> list[float]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok:
        raise DataError(f"{context}: rewards must be two numbers [r_a, r_b], got {value!r}")
    if not all(math.isfinite(v) for v in value):
        raise DataError(f"{context}: rewards must be finite, got {value!r}")
    return [float(value[0]), float(value[1])]


def parse_line(obj: object, context: str) -> Prediction:
    if not isinstance(obj, dict):
        raise DataError(f"{context}: expected a JSON object, got {type(obj).__name__}")
    row = obj.get("row")
    if not isinstance(row, int) or isinstance(row, bool) or row < 0:
        raise DataError(f"{context}: 'row' must be a non-negative integer, got {row!r}")
    context = f"{context} (row {row})"
    pred = Prediction(row=row, id=obj.get("id"))
    if obj.get("error") is not None:
        pred.error = str(obj["error"])
        return pred
    rewards = obj.get("rewards")
    if isinstance(rewards, dict):
        if not rewards:
            raise DataError(f"{context}: rewards is an empty object")
        pred.rewards = {str(k): _reward_pair(v, f"{context} rewards[{k!r}]") for k, v in rewards.items()}
    elif rewards is not None:
        pred.rewards = _reward_pair(rewards, context)
    output = obj.get("output")
    if output is not None and not isinstance(output, str):
        raise DataError(f"{context}: 'output' must be a string of judge text, got {type(output).__name__}")
    pred.output = output
    if pred.rewards is None and pred.output is None:
        raise DataError(f"{context}: needs 'rewards', 'output' or 'error'")
    return pred


def read_predictions(path: str | Path) -> dict[int, Prediction]:
    """row -> Prediction; a row given twice is an error (which line would count?)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"predictions file not found: {path}")
    preds: dict[int, Prediction] = {}
    first_line: dict[int, int] = {}
    for lineno, obj in read_jsonl(path, DataError):  # strict JSON lines, the scoring file's errors
        context = f"{path}: line {lineno}"
        pred = parse_line(obj, context)
        if pred.row in preds:
            raise DataError(f"{context}: row {pred.row} already given on line {first_line[pred.row]}")
        preds[pred.row] = pred
        first_line[pred.row] = lineno
    return preds


def check_against(preds: dict[int, Prediction], ids: list, source: str) -> None:
    """Every predicted row exists in the data, and an echoed id matches the row's id."""
    for row, pred in preds.items():
        if row >= len(ids):
            raise DataError(f"{source}: prediction for row {row}, but the data has {len(ids)} rows")
        if pred.id is not None and ids[row] is not None and str(pred.id) != str(ids[row]):
            raise DataError(
                f"{source}: row {row}: prediction id {str(pred.id)!r} does not match the data's id "
                f"{str(ids[row])!r} (predictions for another file or order?)"
            )


def to_line(row: int, item_id: object, result: dict) -> dict:
    """Prediction line for one `model.score` result (rewards, dimensions or error)."""
    line: dict = {"row": row}
    if item_id is not None:  # echoed for readability and checked on reading
        line["id"] = item_id
    if "error" in result:
        line["error"] = str(result["error"])
    elif result.get("dimensions"):
        dims = {k: list(v) for k, v in result["dimensions"].items()}
        dims.setdefault(OVERALL, list(result["rewards"]))
        line["rewards"] = dims
    else:
        line["rewards"] = list(result["rewards"])
    return line
