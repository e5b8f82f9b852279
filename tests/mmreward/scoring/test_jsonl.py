"""Input lines that cannot be used are errors naming the line, for every reason; outputs are strict JSON."""
import io
import json
import math

import pytest

from mmreward.errors import RecordError
from mmreward.scoring.jsonl import LineTooLong, dump_line, parse_line, raw_lines


@pytest.mark.parametrize("raw, message", [
    (b"[" * 10_000 + b"]" * 10_000, "nested deeper than the parser allows"),  # RecursionError before
    (b'{"id": NaN}', "NaN is not a JSON value"),
    (b'{"id": -Infinity}', "-Infinity is not a JSON value"),
    (b'{"id": 1e400}', "out of double range"),  # parses to inf, which cannot be echoed
    (b'{"id": "\\ud800"}', "lone UTF-16 surrogate"),
    (b'{"id": ' + b"7" * 5000 + b"}", "invalid JSON"),  # Python's 4300-digit int limit
    (b'{"id": "caf\xe9"}', "not UTF-8 (byte 0xe9 at offset 11)"),
    (b'{"id": 1', "invalid JSON (Expecting ',' delimiter at column 9)"),
    (b"   ", "empty line"),
])
def test_unusable_lines_are_record_errors_naming_the_line(raw, message):
    err = parse_line(raw, 7)
    assert isinstance(err, RecordError) and str(err).startswith("line 7: ") and message in str(err), err


def test_a_byte_order_mark_on_the_first_line_is_not_part_of_the_record():
    assert parse_line(b'\xef\xbb\xbf{"id": "a"}', 1) == {"id": "a"}
    assert isinstance(parse_line(b'\xef\xbb\xbf{"id": "a"}', 2), RecordError)


def test_a_line_over_the_limit_is_never_held_and_the_next_line_is_intact():
    data = b'{"id": "a"}\n' + b'{"x": "' + b"y" * 5_000_000 + b'"}\n' + b'{"id": "c"}\r\n' + b'{"id": "d"}'
    lines = list(raw_lines(io.BytesIO(data), max_bytes=1000))
    assert lines[0] == b'{"id": "a"}' and lines[2] == b'{"id": "c"}' and lines[3] == b'{"id": "d"}'
    assert isinstance(lines[1], LineTooLong) and lines[1] == 5_000_009
    err = parse_line(lines[1], 2, max_bytes=1000)
    assert "line 2: 5,000,009 bytes, over the line limit of 1,000 bytes" in str(err)


def test_outputs_are_strict_json_or_refused():
    import numpy as np
    import torch

    line = dump_line({"r": np.float32(0.5), "t": torch.tensor([1.0, 2.0]), "s": "é\u2028\x85"})
    assert json.loads(line) == {"r": 0.5, "t": [1.0, 2.0], "s": "é\u2028\x85"}
    assert line.isascii() and len(line.splitlines()) == 1  # no splitter cuts it at U+2028 / U+0085
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError):
            dump_line({"rewards": [bad]})


# ---------------------------------------------------------------- every JSONL file the suite reads

def _readers():
    from eval.datafile import read_rows
    from eval.errors import DataError
    from eval.predictions import read_predictions
    from mmreward.agent.trace import read_traces
    from mmreward.errors import InputError
    from mmreward.train.agent.common import read_items
    from mmreward.train.reward.data import read_preference_records

    pair = {"id": "p", "prompt": "q", "candidates": [{"text": "a"}, {"text": "b"}], "chosen": 0}
    trace = {"id": "t", "prompt": "q", "videos": ["a.mp4", "b.mp4"], "messages": []}
    item = {"id": "i", "prompt": "q", "videos": ["a.mp4", "b.mp4"], "labels": {"TA": 1}}
    return [("training pairs", read_preference_records, pair, InputError),
            ("agent traces", read_traces, trace, InputError),
            ("agent items", read_items, item, InputError),
            ("benchmark data", read_rows, {"id": "r"}, DataError),
            ("predictions", read_predictions, {"row": 0, "rewards": [1, 0]}, DataError)]


@pytest.mark.parametrize("bad, message", [
    (b'{"id": NaN}', "line 3: invalid JSON (NaN is not a JSON value (RFC 8259) at column 8)"),
    (b'{"id": 1e400}', "line 3: invalid JSON (1e400 is out of double range (not a finite number) at column 8)"),
    (b'{"id": "' + b"x" * 300 + b'"}', "line 3: 310 bytes, over the line limit of 256 bytes (--max-line-bytes)"),
])
@pytest.mark.parametrize("what", range(5), ids=[r[0] for r in _readers()])
def test_every_jsonl_reader_refuses_what_the_scoring_file_refuses(what, bad, message, tmp_path, monkeypatch):
    """Training data, traces, agent items, benchmark data and predictions are read by the scoring
    file's rules: a NaN, a number beyond double range or an over-long line is refused with the
    scoring file's message and the line number (blank lines are not lines of data)."""
    import mmreward.scoring.jsonl as jsonl

    _, read, good, error = _readers()[what]
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 256)
    path = tmp_path / "data.jsonl"
    path.write_bytes(json.dumps(good).encode() + b"\n\n" + bad + b"\n")
    with pytest.raises(error) as err:
        read(path)
    assert str(err.value) == f"{path}: {message}"
    path.write_bytes(json.dumps(good).encode() + b"\n\n")
    assert len(read(path)) == 1  # the good line alone reads
