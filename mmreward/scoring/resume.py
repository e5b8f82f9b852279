"""What an earlier run left in an output, and what is left to do.

An output OUT is a prefix of answers in input order (a run appends as it goes), plus
part files `OUT.partR-of-K` (answers keyed by `"_line"`) where several processes
scored, or where error lines are being scored again. A kill leaves at most one torn
last line per file, which is cut. A line that answers another input is refused.

Done is a line with an answer that stands: not an error line, or an error line that
is not retried. Retried: error lines marked `"retryable": true` (the environment, not
the record, was at fault: a media file not found), and with `retry_errors` every error
line. When the work left is exactly the continuation of OUT, the run appends to OUT;
otherwise it writes part files, and `merge` rewrites OUT in input order, atomically.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mmreward.errors import InputError
from mmreward.scoring.jsonl import dump_line, loads_strict, raw_lines

# error lines written before error lines carried "retryable": the same cause, by its message
_LEGACY_NOT_FOUND = re.compile(r"(image|video) '.*' not found under media root$")
_OUTPUT_LINE_BYTES = 1 << 30  # our own lines; the limit only keeps a foreign file from exhausting memory


@dataclass
class ResumePlan:
    todo: list[int]  # entries to score, ascending
    append: bool  # OUT is a clean prefix and `todo` its continuation: append to OUT
    kept: int  # answers from earlier runs that stand
    retried: int  # error lines from earlier runs scored again


def part_path(out_path: Path, rank: int, world: int) -> Path:
    return out_path.with_name(f"{out_path.name}.part{rank}-of-{world}")


def part_files(out_path: Path) -> list[Path]:
    """Part files of any earlier run (whatever its process count), oldest first."""
    pattern = re.compile(re.escape(out_path.name) + r"\.part\d+-of-\d+$")
    found = [p for p in out_path.parent.glob(out_path.name + ".part*") if pattern.match(p.name)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def cut_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline: the last write of a killed run."""
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            step = min(1 << 16, pos)
            f.seek(pos - step)
            block = f.read(step)
            nl = block.rfind(b"\n")
            if nl >= 0:
                pos = pos - step + nl + 1
                break
            pos -= step
        if pos != end:
            f.truncate(pos)


def output_lines(path: Path):
    """(0-based position, parsed line) of an output or part file; a line that is not a JSON
    object means the file is not ours."""
    with open(path, "rb") as f:
        for pos, raw in enumerate(raw_lines(f, _OUTPUT_LINE_BYTES)):
            try:
                obj = loads_strict(raw.decode("utf-8"))
            except (ValueError, RecursionError, TypeError):
                obj = None
            if not isinstance(obj, dict):
                raise InputError(f"{path} line {pos + 1} is not a JSON object, so it was not written by "
                                 "this tool; use a new output") from None
            yield pos, obj


def needs_retry(line: dict, retry_errors: bool) -> bool:
    if "error" not in line:
        return False
    if retry_errors or line.get("retryable") is True:
        return True
    return bool(_LEGACY_NOT_FOUND.search(str(line["error"])))


def part_answers(source, path: Path):
    """(entry index, line without "_line") of a part file, each checked against the source."""
    for pos, obj in output_lines(path):
        index = obj.pop("_line", None)
        if not isinstance(index, int) or not 0 <= index < len(source):
            raise InputError(f"{path} line {pos + 1} names no line of the input; remove {path.name}")
        source.check_part(obj, index, path)
        yield index, obj


def plan_resume(source, out_path: Path, retry_errors: bool, world: int) -> ResumePlan:
    n = len(source)
    done = bytearray(n)
    in_order, prefix, retried = True, 0, 0
    if out_path.exists():
        cut_torn_tail(out_path)
        for pos, obj in output_lines(out_path):
            index = source.locate(obj, pos, out_path)
            if index != pos:  # None: a line for no entry of this run (kept by `merge`)
                in_order = False
            if index is None:
                continue
            if needs_retry(obj, retry_errors):
                retried += 1
                done[index] = 0
            else:
                done[index] = 1
            if in_order:
                prefix = pos + 1
    parts = part_files(out_path)
    for part in parts:
        cut_torn_tail(part)
        for index, obj in part_answers(source, part):
            done[index] = 0 if needs_retry(obj, retry_errors) else 1
    todo = [i for i in range(n) if not done[i]]
    kept = n - len(todo)
    append = world == 1 and not parts and in_order and todo == list(range(prefix, n))
    return ResumePlan(todo, append, kept, retried)


def merge(source, out_path: Path) -> None:
    """Rewrite OUT in input order from OUT and the part files (later answers win), atomically."""
    answers: dict[int, str] = {}
    foreign: list[str] = []
    if out_path.exists():
        for pos, obj in output_lines(out_path):
            index = source.locate(obj, pos, out_path)
            (foreign.append(dump_line(obj)) if index is None else answers.__setitem__(index, dump_line(obj)))
    parts = part_files(out_path)
    for part in parts:
        for index, obj in part_answers(source, part):
            answers[index] = dump_line(obj)
    missing = [i for i in range(len(source)) if i not in answers]
    if missing:
        raise RuntimeError(f"merge: {len(missing)} lines have no answer (first: line {missing[0] + 1})")
    tmp = out_path.with_name(out_path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(len(source)):
            f.write(answers[i] + "\n")
        for line in foreign:
            f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)  # a kill before this leaves OUT and the parts as they were
    for part in parts:
        part.unlink()
