"""`eval run`: benchmark items -> model -> predictions.jsonl -> metrics and report.

Resumable: rows already scored in OUT/predictions.jsonl are kept and not recomputed;
rows that failed before (error lines) are tried again. Missing media stop the run with
a list of what is missing, unless skip_missing, which scores what is there and records
the rest as errors (counted as skipped).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from eval import media, report
from eval.benchmarks import get
from eval.benchmarks.base import Item
from eval.errors import DataError, where
from eval.metrics import compute
from eval.predictions import parse_line, read_predictions, to_line
from mmreward.models.options import JudgeOptions, ModelOptions

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


def load_done(path: Path, items: list[Item]) -> dict[int, dict]:
    """Successful lines of an earlier run, by row; rewrites the file to just those
    (dropping error lines, which are retried, and a line cut off by a crash)."""
    if not path.is_file():
        return {}
    ids = {it.row: it.id for it in items}
    done: dict[int, dict] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if lineno == len(lines):
                continue  # the last write was interrupted
            raise DataError(f"{path}: line {lineno} is not valid JSON; remove it or the file") from None
        pred = parse_line(obj, f"{path}: line {lineno}")
        if pred.row in ids and pred.id is not None and ids[pred.row] is not None and str(pred.id) != str(ids[pred.row]):
            raise DataError(f"{path}: line {lineno} is for id {pred.id!r} but row {pred.row} of the data is "
                            f"{ids[pred.row]!r}; this out dir belongs to another data file")
        if pred.usable:
            done[pred.row] = obj
    path.write_text("".join(json.dumps(o) + "\n" for o in done.values()), encoding="utf-8")
    return done


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


def _score_chunk(model, chunk: list[Item], root: Path, batch_size: int) -> list:
    """model.score on a chunk; if it raises, score one by one so that one bad record
    becomes one error line instead of stopping the run."""
    def call(part):
        results = model.score([it.record() for it in part], media_root=str(root),
                              batch_size=batch_size, progress=False)
        if len(results) != len(part):
            raise RuntimeError(f"model.score returned {len(results)} results for {len(part)} records")
        return results

    def failed(item, e):
        print(f"warning: {where(item.row, item.id)}: model failed: {type(e).__name__}: {e}", file=sys.stderr)
        return {"id": str(item.row), "error": f"{type(e).__name__}: {e}"}

    try:
        return call(chunk)
    except Exception as e:  # noqa: BLE001 - any model failure becomes per-record error lines
        if len(chunk) == 1:
            return [failed(chunk[0], e)]
    results = []
    for item in chunk:
        try:
            results += call([item])
        except Exception as e:  # noqa: BLE001
            results.append(failed(item, e))
    return results


def score(model, items: list[Item], root: Path, out_file, batch_size: int, desc: str) -> None:
    from tqdm import tqdm

    with tqdm(total=len(items), desc=desc, unit="item", file=sys.stderr) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            results = _score_chunk(model, chunk, root, batch_size)
            for item, result in zip(chunk, results):
                line = to_line(item.row, item.id, _check_result(result, item))
                out_file.write(json.dumps(line) + "\n")
            out_file.flush()  # a crash loses at most one batch
            bar.update(len(chunk))


def load_model(model: ModelOptions, judge: JudgeOptions | None = None):
    from mmreward.commands.common import load_model as load  # lazily: `eval metrics` needs no torch

    return load(model, judge)


def run(benchmark: str, data: str | Path, out: str | Path, model: str | ModelOptions,
        media_root: str | Path | None = None, limit: int | None = None, skip_missing: bool = False,
        batch_size: int = 8, judge: JudgeOptions | None = None) -> dict:
    """Score `benchmark`'s items in `data` with `model` (a name or ModelOptions) into `out`."""
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
    if missing:
        print(missing_message(items, missing, root).rsplit("\n", 1)[0] + "\n(skipped)", file=sys.stderr)

    pred_path = out / PREDICTIONS
    done = load_done(pred_path, items)
    todo = [it for it in items if it.row not in done and it.row not in missing]
    with open(pred_path, "a", encoding="utf-8") as f:
        for item in items:
            if item.row in missing and item.row not in done:
                line = to_line(item.row, item.id, {"error": "missing media: " + ", ".join(missing[item.row])})
                f.write(json.dumps(line) + "\n")
        if todo:
            score(load_model(model, judge), todo, root, f, batch_size, benchmark)

    rows = {it.row for it in items}
    preds = {r: p for r, p in read_predictions(pred_path).items() if r in rows}
    metrics = compute(benchmark, items, preds, str(pred_path))
    report.write(out, benchmark, metrics, items, preds)
    return metrics
