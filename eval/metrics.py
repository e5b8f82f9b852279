"""Predictions -> metrics for one benchmark (what `eval metrics` prints)."""
from __future__ import annotations

import sys
from pathlib import Path

from eval.benchmarks import get
from eval.benchmarks.base import Item, unparsed_rows, usable
from eval.predictions import Prediction, check_against, read_predictions


def compute(name: str, items: list[Item], preds: dict[int, Prediction], source: str = "predictions") -> dict:
    check_against(preds, [it.id for it in items], source)
    out = get(name).metrics(items, preds)
    return dict(sorted(out.items()))


SHOW_ROWS = 5  # rows named in a note; the rest as a count


def _rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:SHOW_ROWS]))
    return f"row{'s' if len(rows) > 1 else ''} {shown}" + (f" and {len(rows) - SHOW_ROWS} more" if len(rows) > SHOW_ROWS else "")


def notes(name: str, items: list[Item], preds: dict[int, Prediction]) -> list[str]:
    """What the metrics leave out, and why: items without a prediction or with an error line
    (all/skipped), and judge outputs without a verdict the official parser reads (all/unparsed)."""
    lines = []
    missing = [it.row for it in items if it.row not in preds]
    failed = [it.row for it in items if it.row in preds and preds[it.row].error is not None]
    if missing:  # not an error (a --limit or --skip-missing run covers part of a file), but say so
        lines.append(f"note: {len(missing)} of {len(items)} items have no prediction and are skipped ({_rows(missing)})")
    if failed:
        lines.append(f"note: {len(failed)} of {len(items)} items have an error line and are skipped ({_rows(failed)})")
    bench = get(name)
    if hasattr(bench, "parses"):
        unparsed = unparsed_rows(items, preds, bench.parses)
        judged = sum(1 for _, p in usable(items, preds) if p.rewards is None)
        if unparsed:
            lines.append(f"note: {len(unparsed)} of {judged} judge outputs have no verdict the official parser "
                         f"reads ({_rows(unparsed)}); {bench.UNPARSED} (all/unparsed)")
    return lines


def from_files(name: str, data: str | Path, predictions: str | Path) -> tuple[dict, list[Item], dict]:
    items = get(name).load(data)
    preds = read_predictions(predictions)
    out = compute(name, items, preds, str(predictions))
    for line in notes(name, items, preds):
        print(line, file=sys.stderr)
    return out, items, preds
