"""`eval run`: benchmark items -> model -> predictions.jsonl -> metrics and report.

Scoring goes through mmreward's resumable writer (`mmreward.scoring.score_file.score_into`,
the one `mmreward score` uses): one writer per out dir, rows already scored in
OUT/predictions.jsonl are kept and not recomputed, rows that failed before (error lines)
are tried again, and several processes shard the rows. Missing media stop the run with
a list of what is missing, unless skip_missing, which scores what is there and records
the rest as errors (counted as skipped).
"""
from __future__ import annotations

import sys
from pathlib import Path

from eval import media, report
from eval.benchmarks import get
from eval.benchmarks.base import Item
from eval.errors import DataError, where
from eval.metrics import compute, notes
from eval.predictions import parse_line, read_predictions, to_line
from mmreward.commands.common import JudgeOptions
from mmreward.models.options import ModelOptions
from mmreward.scoring.score_file import Entry, score_into

PREDICTIONS = "predictions.jsonl"
SHOW_MISSING = 10  # list this many missing files; the rest as a count


def materialize(items: list[Item], root: Path) -> None:
    """Write media stored inside the data file (parquet images) under `root`."""
    for item in items:
        for rel, data in item.embedded.items():
            target = media.resolve(root, rel, where(item.row, item.id))
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)


def find_missing(items: list[Item], root: Path) -> dict[int, list[str]]:
    found = {}
    for item in items:
        absent = media.missing(root, item.media(), where(item.row, item.id))
        if absent:
            found[item.row] = absent
    return found


def missing_message(items: list[Item], missing: dict[int, list[str]], root: Path) -> str:
    by_row = {it.row: it for it in items}
    lines = [f"{len(missing)} of {len(items)} items have media missing under {root}:"]
    for row in list(missing)[:SHOW_MISSING]:
        lines.append(f"  {where(row, by_row[row].id)}: {', '.join(missing[row])}")
    if len(missing) > SHOW_MISSING:
        lines.append(f"  ... and {len(missing) - SHOW_MISSING} more")
    lines.append("fix the media root, or pass --skip-missing to score the items that are there")
    return "\n".join(lines)


class ItemSource:
    """Benchmark items as entries of the scoring writer (`mmreward.scoring.score_file.score_into`):
    prediction line n answers item n, keyed by its row; an item with missing media is answered
    without the model."""

    def __init__(self, items: list[Item], missing: dict[int, list[str]]):
        self.items, self.missing = items, missing
        self.index = {it.row: n for n, it in enumerate(items)}

    def __len__(self) -> int:
        return len(self.items)

    def entries(self, wanted):
        for n in wanted:
            item = self.items[n]
            if item.row in self.missing:
                yield n, Entry(answer={"error": "missing media: " + ", ".join(self.missing[item.row])})
            else:
                yield n, Entry(record=item.record())

    def locate(self, line: dict, pos: int, path: Path) -> int | None:
        """The item a predictions line answers; None for a row outside this run (e.g. past --limit)."""
        pred = parse_line(line, f"{path}: line {pos + 1}")
        n = self.index.get(pred.row)
        if n is not None:
            self._check_id(pred.id, n, f"{path}: line {pos + 1}")
        return n

    def check_part(self, line: dict, n: int, path: Path) -> None:
        if line.get("row") != self.items[n].row:
            raise DataError(f"{path}: an answer for row {line.get('row')!r} filed as row {self.items[n].row}")
        self._check_id(line.get("id"), n, str(path))

    def _check_id(self, pred_id, n: int, context: str) -> None:
        item = self.items[n]
        if pred_id is not None and item.id is not None and str(pred_id) != str(item.id):
            raise DataError(f"{context} is for id {pred_id!r} but row {item.row} of the data is "
                            f"{item.id!r}; this out dir belongs to another data file")

    def format(self, n: int, output: dict) -> dict:
        item = self.items[n]
        return to_line(item.row, item.id, _check_result(output, item))


def _check_result(result: object, item: Item) -> dict:
    """A malformed model result becomes an error line instead of stopping the run."""
    if not isinstance(result, dict):
        return {"error": f"model returned {type(result).__name__}, not a dict"}
    if result.get("id") is not None and str(result["id"]) != str(item.row):
        return {"error": f"model returned id {result['id']!r} for record {item.row}"}
    if "error" in result:
        return result
    rewards = result.get("rewards")
    if not isinstance(rewards, (list, tuple)) or len(rewards) != len(item.candidates):
        return {"error": f"model returned rewards {rewards!r}; expected {len(item.candidates)} numbers"}
    return result


def load_model(model: ModelOptions, judge: JudgeOptions | None = None, **extra):
    from mmreward.commands.common import load_model as load  # lazily: `eval metrics` needs no torch

    return load(model, judge, **extra)


def run(benchmark: str, data: str | Path, out: str | Path, model: str | ModelOptions,
        media_root: str | Path | None = None, limit: int | None = None, skip_missing: bool = False,
        batch_size: int = 8, judge: JudgeOptions | None = None, state=None) -> dict | None:
    """Score `benchmark`'s items in `data` with `model` (a name or ModelOptions) into
    OUT/predictions.jsonl (resumable; under `accelerate launch` / torchrun every process scores
    a shard), then write the metrics and the report. Returns the metrics (None on processes
    other than the main one)."""
    if isinstance(model, str):
        model = ModelOptions(model=model)
    bench = get(benchmark)
    items = bench.load(data)
    if limit is not None:
        items = items[:limit]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(media_root) if media_root else Path(data).resolve().parent
    if not root.is_dir():
        raise DataError(f"media root {root} is not a directory")
    if any(it.embedded for it in items):
        root = out / "media"  # the data file carries its media: unpack them for the model
        materialize(items, root)
    for item in items:
        getattr(bench, "check_runnable", lambda _item: None)(item)
        item.normalize_media()
    missing = find_missing(items, root)
    if missing and not skip_missing:
        raise DataError(missing_message(items, missing, root))
    main = state is None or state.is_main_process
    if missing and main:
        print(missing_message(items, missing, root).rsplit("\n", 1)[0] + "\n(skipped)", file=sys.stderr)

    device = {"device": str(state.device)} if state is not None and state.num_processes > 1 else {}
    pred_path = out / PREDICTIONS
    # error rows (missing media included) are tried again: the media may be there now
    score_into(lambda: load_model(model, judge, **device), ItemSource(items, missing), pred_path,
               media_root=str(root), batch_size=batch_size, progress=main, state=state, retry_errors=True)
    if not main:
        return None
    rows = {it.row for it in items}
    preds = {r: p for r, p in read_predictions(pred_path).items() if r in rows}
    metrics = compute(benchmark, items, preds, str(pred_path))
    for line in notes(benchmark, items, preds):
        print(line, file=sys.stderr)
    report.write(out, benchmark, metrics, items, preds)
    return metrics
