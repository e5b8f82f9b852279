"""Resumable scoring into a JSONL file: one output line per input entry, in order, appended chunk by chunk.

`score_file` scores a JSONL file of records (`mmreward score`); `score_into` is the same
writer for any `Source` of entries (`eval run` gives benchmark items). Both:
- take an exclusive lock on the output (`mmreward.scoring.lock`): a second run on it is refused;
- resume (`mmreward.scoring.resume`): answers that stand are kept, the rest are scored;
- under `accelerate launch` / torchrun, let each process score every k-th entry left into its
  own part file, merged by the main process in input order;
- write only strict JSON (`mmreward.scoring.jsonl`), flushed after every chunk, so a kill
  loses at most the chunk in flight.

Any object with `.score(records, media_root=, batch_size=, progress=)` can score (every
`BaseRewardModel` has it); a `RecordError` it raises for a chunk makes the writer score that
chunk's records one at a time, so only the culprit gets an error line.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mmreward.errors import InputError, MmrewardError, RecordError
from mmreward.scoring.jsonl import MAX_LINE_BYTES, dump_line, parse_line, raw_lines
from mmreward.scoring.lock import OutputLock
from mmreward.scoring.outputs import error_output
from mmreward.scoring.resume import ResumePlan, merge, output_lines, part_path, plan_resume

#: Test hook: a process that has flushed at least this many lines stops itself (SIGSTOP), still
#: holding its lock, so that a test can kill it at a known point instead of racing it.
STOP_AFTER_LINES_ENV = "MMREWARD_TEST_STOP_AFTER_LINES"
MAX_CHUNK_ENTRIES = 4096  # answers given without the model are written at least this often


@dataclass
class Entry:
    """One input entry: a record for the model, or an answer given without it (a line that
    does not parse, an item whose media are missing)."""

    record: Any = None
    answer: dict | None = None


class JsonlSource:
    """The lines of a JSONL file as entries; output line n answers line n and echoes its id."""

    def __init__(self, path: str | os.PathLike, max_line_bytes: int = MAX_LINE_BYTES):
        self.path, self.max_line_bytes = Path(path), max_line_bytes
        self.ids = [_record_id(v) for _, v in self.parsed(self.path, max_line_bytes)]  # count lines, keep ids

    @staticmethod
    def parsed(path: Path, max_line_bytes: int) -> Iterator[tuple[int, Any]]:
        with open(path, "rb") as f:
            for n, raw in enumerate(raw_lines(f, max_line_bytes)):
                yield n, parse_line(raw, n + 1, max_line_bytes)

    def __len__(self) -> int:
        return len(self.ids)

    def entries(self, wanted: Iterable[int]) -> Iterator[tuple[int, Entry]]:
        wanted = iter(wanted)
        target = next(wanted, None)
        if target is None:
            return
        with open(self.path, "rb") as f:
            for n, raw in enumerate(raw_lines(f, self.max_line_bytes)):
                if n != target:
                    continue  # lines not wanted are read, never parsed
                value = parse_line(raw, n + 1, self.max_line_bytes)
                if isinstance(value, RecordError):
                    yield n, Entry(answer={"id": None, "error": str(value)})
                else:
                    yield n, Entry(record=value)
                target = next(wanted, None)
                if target is None:
                    return

    def locate(self, line: dict, pos: int, out_path: Path) -> int:
        if pos >= len(self.ids):
            raise InputError(f"{out_path} has more lines than the input ({len(self.ids)}): "
                             "is it the output of another input? use a new --output")
        self.check_part(line, pos, out_path)
        return pos

    def check_part(self, line: dict, index: int, path: Path) -> None:
        if not is_answer(line):  # e.g. the input itself given as --output: ids match, nothing is answered
            raise InputError(f"{path} line {index + 1} is not an answer (no 'rewards' and no 'error'; keys "
                             f"{sorted(map(str, line))[:6]}): is it an input file? use a new --output")
        if line.get("id") != self.ids[index]:
            raise InputError(f"{path} line for input line {index + 1} has id {line.get('id')!r}, the input "
                             f"{self.ids[index]!r}: is it the output of another input? use a new --output")

    def format(self, index: int, output: dict) -> dict:
        rid = self.ids[index]
        if "id" in output and output["id"] != rid:
            raise RuntimeError(f"the model answered input line {index + 1} (id {rid!r}) with id "
                               f"{output['id']!r}: its outputs are out of order")
        return {"id": rid, **{k: v for k, v in output.items() if k != "id"}}


def is_answer(line: dict) -> bool:
    """Whether an output line is what the writer writes for an entry: a result or an error line."""
    return "rewards" in line or "error" in line


def read_records(path: str | os.PathLike, max_line_bytes: int = MAX_LINE_BYTES) -> list:
    """Every line of a JSONL file: its record, or a RecordError saying why the line is unusable
    (for commands that need the records in memory: probe, calibrate)."""
    return [value for _, value in JsonlSource.parsed(Path(path), max_line_bytes)]


def _record_id(value):
    return value.get("id") if isinstance(value, dict) else None


# ------------------------------------------------------------------------- scoring

def _score_records(model, records: list, media_root, batch_size: int) -> list[dict]:
    try:
        outs = model.score(records, media_root=media_root, batch_size=batch_size, progress=False)
    except RecordError as exc:  # the model could not tell which record: find it
        if len(records) == 1:
            return [error_output(_record_id(records[0]), exc)]
        return [o for r in records for o in _score_records(model, [r], media_root, batch_size)]
    if not isinstance(outs, list) or len(outs) != len(records):
        got = len(outs) if isinstance(outs, list) else type(outs).__name__
        raise RuntimeError(f"{type(model).__name__}.score returned {got} outputs for {len(records)} records")
    return outs


def _answers(model, source, indices: list[int], media_root, batch_size: int, progress: bool):
    """Yield lists of (index, output) in index order, one list per chunk of records."""
    size, chunk, n_records, bar, done = None, [], 0, None, 0
    try:
        for index, entry in source.entries(indices):
            chunk.append((index, entry))
            done += 1
            if entry.answer is None:
                if isinstance(model, type) or not hasattr(model, "score"):
                    model = model()  # a factory: loaded on the first record that needs it
                if size is None:
                    size = model.chunk_size(batch_size) if hasattr(model, "chunk_size") else batch_size
                n_records += 1
            full = (size is not None and n_records >= size) or len(chunk) >= MAX_CHUNK_ENTRIES
            if full or done == len(indices):
                if bar is None:  # after the model loads (a failed load prints only its error), before it scores
                    bar = tqdm(total=len(indices), unit="item", desc="scoring", disable=not progress)
                yield _finish(model, chunk, media_root, batch_size)
                bar.update(len(chunk))
                chunk, n_records = [], 0
        if chunk:  # the source gave fewer entries than asked (it never should): still answer them
            yield _finish(model, chunk, media_root, batch_size)
    finally:
        if bar is not None:
            bar.close()


def _finish(model, chunk, media_root, batch_size) -> list[tuple[int, dict]]:
    records = [e.record for _, e in chunk if e.answer is None]
    outs = iter(_score_records(model, records, media_root, batch_size) if records else [])
    return [(i, e.answer if e.answer is not None else next(outs)) for i, e in chunk]


class _Writer:
    """Appends lines to one file, flushed per chunk; `_line` keys them in part files."""

    def __init__(self, path: Path, source, keyed: bool):
        self.path, self.f = path, None  # opened on the first write: a run that fails first leaves no file
        self.source, self.keyed, self.written = source, keyed, 0
        stop = os.environ.get(STOP_AFTER_LINES_ENV)
        self.stop_after = int(stop) if stop else None

    def write(self, pairs: list[tuple[int, dict]]) -> None:
        if self.f is None:
            self.f = open(self.path, "a", encoding="utf-8")
        for index, out in pairs:
            self.f.write(self._line(index, out) + "\n")
        self.f.flush()  # a SIGKILL after this loses nothing that was written
        self.written += len(pairs)
        if self.stop_after is not None and self.written >= self.stop_after:
            os.kill(os.getpid(), signal.SIGSTOP)

    def _line(self, index: int, out: dict) -> str:
        """The JSON text of the line for entry `index`, serialised once."""
        line = self.source.format(index, out)
        try:
            return self._dump(index, line)
        except (ValueError, RecursionError):  # a NaN reward, ...
            return self._dump(index, self.source.format(index, {
                "error": "the model's output cannot be written as JSON "
                         "(a non-finite number, or nested too deeply)"}))

    def _dump(self, index: int, line: dict) -> str:
        return dump_line({"_line": index, **line} if self.keyed else line)

    def close(self) -> None:
        if self.f is not None:
            self.f.close()


# ------------------------------------------------------------------------- processes

def _share(state, value):
    """The main process's `value` on every process."""
    if state is None or state.num_processes == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _plan_or_error(source, out_path: Path, retry_errors: bool, world: int, lock: OutputLock):
    """The resume plan, or the user error that stops the run (shared with every process)."""
    try:
        lock.acquire()
        return plan_resume(source, out_path, retry_errors, world)
    except MmrewardError as exc:
        lock.release()
        return exc
    except BaseException:
        lock.release()
        raise


def score_into(model, source, output_path, media_root=None, batch_size: int = 8, progress: bool = True,
               state=None, retry_errors: bool = False) -> dict:
    """Score `source`'s entries into `output_path` (resumably, see the module doc); returns counts.

    `model`: a reward model, or a zero-argument callable that loads one (called only when an
    entry needs the model, so a finished output costs no model load).
    """
    # every name of the output (a symlink, a `..` detour) is one file: one lock, one set of parts
    out_path = Path(output_path).resolve()
    if media_root is not None and not Path(media_root).is_dir():
        raise InputError(f"--media-root {str(media_root)!r} is not a directory")
    world = state.num_processes if state is not None else 1
    rank = state.process_index if state is not None else 0
    lock = OutputLock(out_path)
    plan = _plan_or_error(source, out_path, retry_errors, world, lock) if rank == 0 else None
    plan = _share(state, plan)
    if isinstance(plan, Exception):
        raise plan if rank == 0 else InputError(str(plan))
    try:
        _score_share(model, source, plan, out_path, media_root, batch_size, progress, rank, world)
        if world > 1:
            state.wait_for_everyone()
        if rank == 0 and not plan.append:
            merge(source, out_path)
        if world > 1:
            state.wait_for_everyone()
    finally:
        lock.release()
    return summarize(out_path, plan)


def _score_share(model, source, plan: ResumePlan, out_path, media_root, batch_size, progress, rank, world):
    mine = plan.todo[rank::world]
    if not mine:
        return
    target = out_path if plan.append else part_path(out_path, rank, world)
    writer = _Writer(target, source, keyed=not plan.append)
    try:
        for pairs in _answers(model, source, mine, media_root, batch_size, progress and rank == 0):
            writer.write(pairs)
    finally:
        writer.close()


def score_file(model, input_path, output_path, media_root=None, batch_size: int = 8, progress: bool = True,
               state=None, retry_errors: bool = False, max_line_bytes: int = MAX_LINE_BYTES) -> dict:
    """Score every line of the JSONL `input_path` into `output_path`; returns counts."""
    if _same_file(input_path, output_path):
        raise InputError(f"--output {str(output_path)!r} is the --input file; write the scores to a new file")
    source = JsonlSource(input_path, max_line_bytes)
    return score_into(model, source, output_path, media_root, batch_size, progress, state, retry_errors)


def _same_file(a, b) -> bool:
    """One file under two names (the same path, a symlink, a hard link, a `..` detour)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def summarize(out_path: Path, plan: ResumePlan) -> dict:
    lines = errors = 0
    if out_path.exists():
        for _, obj in output_lines(out_path):
            lines += 1
            errors += "error" in obj
    return {"lines": lines, "errors": errors, "resumed_from": plan.kept, "retried": plan.retried}
