"""JSON lines read strictly and within bounds, written so that they always read back.

Reading: a line is bytes up to a newline, never more than `max_bytes` held in memory;
whatever makes a line unusable (too long, not UTF-8, not JSON, nested deeper than the
parser goes, a number JSON cannot echo) is a `RecordError` naming the line, which the
writer turns into that line's error output. Every other JSONL file the suite reads
(training data, traces, agent items, benchmark data, predictions) goes through
`read_jsonl`: the same rules, the first bad line an error naming the file and the line.

Numbers: `NaN`, `Infinity` and numbers beyond double range (`1e400`) are not JSON
(RFC 8259). Python's `json` accepts them and would echo them as bare `NaN`, which no
strict reader (nor a resumed run) accepts, so `loads_strict` refuses them with their
position (the scoring files and the service read with it): a line holding one is an error
line, and a model output holding one is an error for that record (`dump_line`).
"""
from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from typing import BinaryIO

from mmreward.errors import InputError, RecordError

#: a record with data-URI media of a few times --max-media-bytes fits; a runaway line (a file
#: with no line breaks) does not, and is never held in memory
MAX_LINE_BYTES = 256 * 2**20
_BOM = b"\xef\xbb\xbf"


class LineTooLong(int):
    """What `raw_lines` yields for a line over the limit: its size in bytes (the text is skipped)."""


def raw_lines(f: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes | LineTooLong]:
    """Each line of `f` without its line ending; a line over `max_bytes` as `LineTooLong(size)`."""
    while line := f.readline(max_bytes + 1):
        if len(line) > max_bytes and not line.endswith(b"\n"):
            size = len(line)
            while line and not line.endswith(b"\n"):  # skip the rest in bounded pieces
                line = f.readline(1 << 20)
                size += len(line)
            yield LineTooLong(size - line.endswith(b"\n"))
            continue
        yield line.rstrip(b"\r\n") if line.endswith(b"\n") else line


class _NotJson(ValueError):
    """A token Python's parser takes but JSON does not; `loads_strict` finds where it is."""


def _reject_constant(name: str):
    raise _NotJson(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotJson(text)
    return value


# strings (skipped whole, escapes included) and the tokens that can be out of JSON's range
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|(-?Infinity|NaN)|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)')


def _offending(text: str) -> tuple[str, int, str] | None:
    """(token, offset, why) of the first value in `text` that is not JSON or that a double cannot
    hold; the text is otherwise well-formed (Python's parser read it)."""
    for m in _TOKENS.finditer(text):
        if m[1]:
            return m[1], m.start(), "is not a JSON value (RFC 8259)"
        if m[2]:
            token = m[2]
            if token.strip("-").isdigit():
                if len(token.strip("-")) > sys.get_int_max_str_digits() > 0:
                    return token[:20] + "...", m.start(), f"is an integer of {len(token)} digits, over the parser's limit"
            elif math.isinf(float(token)):
                return token, m.start(), "is out of double range (not a finite number)"
    return None


def loads_strict(text: str):
    """`json.loads` that takes only RFC 8259 JSON: NaN, Infinity and numbers beyond double range
    (`1e400`) are refused like a syntax error, as a `json.JSONDecodeError` naming the position.
    Every failure is a ValueError or a RecursionError."""
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # a hook above, or int() over its digit limit: find the token
        found = _offending(text)
        if found is None:
            raise
        token, pos, why = found
        raise json.JSONDecodeError(f"{token} {why}", text, pos) from None


def parse_line(raw: bytes | LineTooLong, lineno: int, max_bytes: int = MAX_LINE_BYTES):
    """One input line -> its JSON value, or a RecordError that says why the line is unusable."""
    where = f"line {lineno}"
    if isinstance(raw, LineTooLong):
        return RecordError(f"{where}: {raw:,} bytes, over the line limit of {max_bytes:,} bytes "
                           "(--max-line-bytes)")
    if lineno == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    if not raw.strip():
        return RecordError(f"{where}: empty line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(f"{where}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})")
    try:
        value = loads_strict(text)
    except json.JSONDecodeError as exc:
        return RecordError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return RecordError(f"{where}: invalid JSON (nested deeper than the parser allows)")
    except (ValueError, MemoryError) as exc:  # NaN/Infinity; an integer of more than 4300 digits
        return RecordError(f"{where}: invalid JSON ({exc})")
    try:  # what cannot be written back (1e400 -> inf, lone surrogates) is refused now
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError) as exc:
        return RecordError(f"{where}: cannot be echoed as JSON ({_why_unwritable(exc)})")
    return value


def read_jsonl(path, error: type[Exception] = InputError,
               max_line_bytes: int | None = None) -> Iterator[tuple[int, object]]:
    """(line number, value) of each line of the JSONL file `path` that is not blank, read by the
    scoring file's rules (`parse_line`; lines up to `MAX_LINE_BYTES` unless told); the first line
    that breaks them raises `error("PATH: line N: ...")`, the scoring file's message for that line."""
    max_line_bytes = max_line_bytes or MAX_LINE_BYTES
    with open(path, "rb") as f:
        for n, raw in enumerate(raw_lines(f, max_line_bytes), start=1):
            if not isinstance(raw, LineTooLong) and not raw.strip():
                continue
            value = parse_line(raw, n, max_line_bytes)
            if isinstance(value, RecordError):
                raise error(f"{path}: {value}")
            yield n, value


def _why_unwritable(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeEncodeError):
        return "a string holds a lone UTF-16 surrogate, which is not Unicode text"
    return "a number is out of double range or not finite"


def _plain(value):
    """numpy and torch scalars/arrays that a model returned, as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_line(obj) -> str:
    """`obj` as one strict JSON line (no newline). ASCII only: U+2028, U+0085 and the like are
    escaped, so no line splitter (`str.splitlines` splits on them) cuts a line in two. Raises
    ValueError on a non-finite number, RecursionError on absurd nesting."""
    return json.dumps(obj, allow_nan=False, default=_plain)
