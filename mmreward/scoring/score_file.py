"""Resumable JSONL scoring: one output line per input line, in order, appended batch by batch.

A killed run leaves OUT as a prefix of the answers (plus at most one torn last
line, which is cut off); restarting with the same OUT scores only the rest.
Under `accelerate launch` each process scores every k-th remaining line into
its own part file, and the main process merges the parts in input order.
"""
from __future__ import annotations

import json
from pathlib import Path

from mmreward.scoring.records import RecordError


def read_records(path: str | Path) -> list:
    """Each input line -> a record, or a RecordError for a line that is not valid JSON."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                records.append(RecordError(f"line {n}: empty line"))
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                records.append(RecordError(f"line {n}: invalid JSON ({exc.msg} at column {exc.colno})"))
    return records


def record_id(record):
    return record.get("id") if isinstance(record, dict) else None


def completed_lines(out_path: Path, records: list) -> int:
    """How many answers OUT already holds; drops a torn last line and checks ids line up."""
    if not out_path.exists():
        return 0
    data = out_path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        out_path.write_bytes(keep)  # the last write was cut by a kill: score that line again
    lines = keep.decode("utf-8").splitlines()
    if len(lines) > len(records):
        raise ValueError(f"{out_path} has {len(lines)} lines but the input has only {len(records)}")
    for n, line in enumerate(lines):
        if json.loads(line).get("id") != record_id(records[n]):
            raise ValueError(f"{out_path} line {n + 1} does not answer input line {n + 1} "
                             "(different id): is it the output of another input? use a new --output")
    return len(lines)


def _answers(model, records, indices, media_root, batch_size, progress):
    """Yield (index, output) chunk by chunk; invalid-JSON lines are answered without the model."""
    recs = [records[i] for i in indices]
    valid = [j for j, r in enumerate(recs) if not isinstance(r, RecordError)]
    chunks = model.score_iter((recs[j] for j in valid), media_root, batch_size, progress, total=len(valid))
    pos = 0
    pending = [(indices[j], {"id": None, "error": str(recs[j])}) for j in range(len(recs))
               if isinstance(recs[j], RecordError)]
    for chunk in chunks:
        got = [(indices[valid[pos + k]], out) for k, out in enumerate(chunk)]
        pos += len(chunk)
        # emit the error lines that sit before this chunk's last index, keeping input order
        upto = got[-1][0]
        early = [p for p in pending if p[0] < upto]
        pending = [p for p in pending if p[0] >= upto]
        yield sorted(early + got)
    if pending:
        yield pending


def _append(f, pairs, with_line: bool):
    for idx, out in pairs:
        f.write(json.dumps({"_line": idx, **out} if with_line else out) + "\n")
    f.flush()  # a SIGKILL after this loses nothing that was written


def score_file(model, input_path, output_path, media_root=None, batch_size: int = 8,
               progress: bool = True, state=None) -> dict:
    """Score every line of `input_path` into `output_path`; returns counts."""
    records = read_records(input_path)
    out_path = Path(output_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    world = state.num_processes if state is not None else 1
    is_main = state is None or state.is_main_process
    done = completed_lines(out_path, records)
    todo = list(range(done, len(records)))
    if world == 1:
        with open(out_path, "a", encoding="utf-8") as f:
            for pairs in _answers(model, records, todo, media_root, batch_size, progress):
                _append(f, pairs, with_line=False)
    else:
        _score_shard(model, records, todo, out_path, media_root, batch_size, progress, state)
        state.wait_for_everyone()
        if is_main:
            _merge_parts(out_path, todo, world)
        state.wait_for_everyone()
    return summarize(out_path, already=done)


def _part_path(out_path: Path, rank: int, world: int) -> Path:
    return out_path.with_name(f"{out_path.name}.part{rank}-of-{world}")


def _score_shard(model, records, todo, out_path, media_root, batch_size, progress, state):
    rank, world = state.process_index, state.num_processes
    part = _part_path(out_path, rank, world)
    have = set()
    if part.exists():
        data = part.read_bytes()
        part.write_bytes(data[: data.rfind(b"\n") + 1])  # drop a torn last line
        have = {json.loads(line)["_line"] for line in part.read_text().splitlines()}
    mine = [i for i in todo[rank::world] if i not in have]
    with open(part, "a", encoding="utf-8") as f:
        for pairs in _answers(model, records, mine, media_root, batch_size, progress and rank == 0):
            _append(f, pairs, with_line=True)


def _merge_parts(out_path: Path, todo: list[int], world: int) -> None:
    answers = {}
    parts = [_part_path(out_path, r, world) for r in range(world)]
    for part in parts:
        for line in part.read_text().splitlines():
            obj = json.loads(line)
            answers[obj.pop("_line")] = obj
    missing = [i for i in todo if i not in answers]
    if missing:
        raise RuntimeError(f"merge: {len(missing)} lines have no answer (first: line {missing[0] + 1})")
    with open(out_path, "a", encoding="utf-8") as f:
        _append(f, [(i, answers[i]) for i in todo], with_line=False)
    for part in parts:
        part.unlink()


def summarize(out_path: Path, already: int = 0) -> dict:
    lines = out_path.read_text().splitlines() if out_path.exists() else []
    errors = sum(1 for line in lines if "error" in json.loads(line))
    return {"lines": len(lines), "errors": errors, "resumed_from": already}
