"""Fuzzing `mmreward score` with every kind of line and media (hypothesis): whatever the input,
one output line per input line, in order, strict JSON with the input's id, exit 0, bounded memory.

The model is the session's tiny scalar model (in-process, through the real command); the media
pool holds valid, missing, empty, corrupt, truncated, oversized and unsafe files of each kind, as
paths and as data URIs (valid, corrupt, mistyped, not base64, over --max-media-bytes).
"""
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mmreward.scoring.datauri import encode_data_uri
from peak_memory import PeakSince

MAX_LINE_BYTES = 400_000  # small, so that the "huge line" case is cheap (valid records stay under it)
MAX_MEDIA_BYTES = 20_000  # the valid media are under it (12 KB at most), the big JPEG (31 KB) over
#: what the examples may add to the resident memory the test starts with (the session's model loaded;
#: measured: 54 MiB): a decoded bomb (100k x 100k pixels) passes it, and so does memory kept from one
#: example to the next at 9 MB an example (30 examples)
GROWTH = 256 * 2**20
# a deeper search, run by hand: MMREWARD_FUZZ_EXAMPLES=500 pytest tests/mmreward/scoring/test_score_fuzz.py
EXAMPLES = int(os.environ.get("MMREWARD_FUZZ_EXAMPLES", "30"))


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A small valid-looking PNG whose header claims width x height (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """(media root, names): one file or path of every kind."""
    from video.writer import write_mp4

    root = tmp_path_factory.mktemp("fuzz_media")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / "ok.png")
    Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(root / "ok.jpg", quality=90)
    Image.new("RGB", (1600, 1200), (10, 200, 30)).save(root / "big.jpg")  # resized by the processor
    Image.new("RGBA", (30, 30), (255, 0, 0, 128)).save(root / "alpha.png")
    Image.new("L", (300, 1)).save(root / "thin.png")  # aspect ratio 300: the processor refuses it
    data = (root / "ok.jpg").read_bytes()
    (root / "cut.jpg").write_bytes(data[: len(data) // 2])
    (root / "empty.png").write_bytes(b"")
    (root / "noise.png").write_bytes(rng.integers(0, 255, 2000, dtype=np.uint8).tobytes())
    (root / "text.png").write_text("not an image at all")
    _png_claiming(root / "bomb.png", 100_000, 100_000)
    (root / "dir.png").mkdir()
    (root / "out.png").symlink_to(shutil.copy(root / "ok.png", root.parent / "outside.png"))
    write_mp4(root / "ok.mp4", rng.integers(0, 255, (6, 32, 56, 3), dtype=np.uint8), fps=5)
    # decord 0.6 opens 48-pixel-wide frames but cannot decode them ("from_size == to_size"): PyAV reads them
    write_mp4(root / "w48.mp4", rng.integers(0, 255, (4, 32, 48, 3), dtype=np.uint8), fps=5)
    (root / "noise.mp4").write_bytes(rng.integers(0, 255, 3000, dtype=np.uint8).tobytes())
    (root / "empty.mp4").write_bytes(b"")
    uri = lambda name, mime: encode_data_uri((root / name).read_bytes(), mime)  # noqa: E731
    # the first entries of each list are valid (`_records` draws valid records from them)
    images = ["ok.png", "ok.jpg", "big.jpg", "alpha.png", uri("ok.png", "image/png"), uri("ok.jpg", "image/jpeg"),
              "thin.png", "cut.jpg", "empty.png", "noise.png", "text.png", "bomb.png", "dir.png", "out.png",
              "missing.png", "../outside.png", "/etc/hostname", "", "a\x00b.png", 7, None,
              uri("cut.jpg", "image/jpeg"), uri("bomb.png", "image/png"), uri("noise.png", ""),
              uri("big.jpg", "image/jpeg"),  # over --max-media-bytes
              uri("ok.png", "text/plain"), "data:image/png;base64,!!!notbase64", "data:image/png,raw",
              "data:image/png;base64,", "data:"]
    videos = ["ok.mp4", uri("ok.mp4", "video/mp4"), "w48.mp4", "noise.mp4", "empty.mp4", "missing.mp4", "ok.png", "../x.mp4",
              uri("noise.mp4", "video/mp4"), uri("ok.png", "image/png"), "data:video/mp4;base64,AAAA"]
    return root, images, videos


SPECIAL = st.sampled_from(["<|image_pad|>", "<|im_end|>", "<|vision_start|>", "<|video_pad|>", "\x00", "\ud800",
                           "é" * 50, "word " * 2000])
TEXT = st.one_of(st.text(max_size=40), SPECIAL)
JSONISH = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
                       lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
                       max_leaves=8)


def _well_formed(images, videos, ids, text):
    paths = lambda pool, lo: st.lists(st.sampled_from(pool), min_size=lo, max_size=3)  # noqa: E731
    candidate = (st.fixed_dictionaries({"text": text}) | st.fixed_dictionaries({"images": paths(images, 1)})
                 | st.fixed_dictionaries({"videos": paths(videos, 1)})
                 | st.fixed_dictionaries({"text": text, "images": paths(images, 1)}))
    return st.fixed_dictionaries({"id": ids, "prompt": text, "candidates": st.lists(candidate, min_size=1, max_size=3)},
                                 optional={"images": paths(images, 0), "criteria": text})


def _valid(images, videos):
    """Records the model scores: valid media only, text the processor takes."""
    return _well_formed(images[:6], videos[:2], st.none() | st.text(max_size=8) | st.integers(),
                        st.text(max_size=30) | st.sampled_from(["<|im_end|>", "é" * 50, "word " * 2000]))


def _records(images, videos):
    """Valid records, well-formed records over the whole media pool, and records of anything."""
    valid = _valid(images, videos)
    good = _well_formed(images, videos, JSONISH, TEXT)
    paths = lambda pool, lo: st.lists(st.sampled_from(pool), min_size=lo, max_size=3)  # noqa: E731
    media = lambda pool: paths(pool, 0) | JSONISH  # noqa: E731
    candidate = st.fixed_dictionaries({}, optional={"text": TEXT | JSONISH, "images": media(images),
                                                    "videos": media(videos)}) | JSONISH
    anything = st.fixed_dictionaries({}, optional={
        "id": JSONISH, "prompt": TEXT | JSONISH, "criteria": TEXT | JSONISH, "images": media(images),
        "candidates": st.lists(candidate, max_size=3) | JSONISH})
    return st.one_of(valid, valid, good, anything)


RAW_LINES = st.sampled_from([
    b"", b"   ", b"{not json", b"[" * 10_000 + b"]" * 10_000, b'{"id": NaN, "prompt": "p"}',
    b'{"id": 1e400}', b'{"id": "caf\xe9"}', b"\xff\xfe\x00", b"null", b"[1, 2]", b'"a string"',
    b'{"x": "' + b"y" * (MAX_LINE_BYTES + 10) + b'"}', b'{"id": ' + b"9" * 5000 + b"}",
])


def _line(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode("utf-8", "surrogatepass")  # NaN and lone surrogates included


def _expected_id(raw: bytes):
    """The id the output must echo: the record's, when the line is usable JSON; else None."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=lambda c: 1 / 0)
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        if len(raw) > MAX_LINE_BYTES:
            return None
    except Exception:  # noqa: BLE001 - any failure: the line is an error line without an id
        return None
    return value.get("id") if isinstance(value, dict) else None


@pytest.fixture(scope="module")
def command(scalar_rm):
    """`mmreward score` in-process on the session's tiny model."""
    from mmreward.cli import main

    mp = pytest.MonkeyPatch()
    mp.setattr("mmreward.commands.common.load_model", lambda *a, **k: scalar_rm)
    yield main
    mp.undo()


@pytest.mark.slow
def test_any_input_gives_one_strict_json_line_per_line_in_order(pool, command, tmp_path_factory):
    root, images, videos = pool
    work = tmp_path_factory.mktemp("fuzz_runs")
    runs = iter(range(10**6))
    scored = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=EXAMPLES == 30, database=None)
    @given(st.lists(_records(images, videos) | RAW_LINES, max_size=5), _valid(images, videos), st.integers(0, 5),
           st.integers(1, 4))
    def check(lines, valid, at, batch_size):
        at = min(at, len(lines))
        lines.insert(at, valid)  # at least one record per example reaches the model
        n = next(runs)
        raws = [_line(v) for v in lines]
        inp, out = work / f"in{n}.jsonl", work / f"out{n}.jsonl"
        inp.write_bytes(b"".join(r.replace(b"\n", b" ") + b"\n" for r in raws))
        rc = command(["score", "--input", str(inp), "--output", str(out), "--media-root", str(root),
                      "--batch-size", str(batch_size), "--max-line-bytes", str(MAX_LINE_BYTES),
                      "--max-media-bytes", str(MAX_MEDIA_BYTES), "--no-progress"])
        assert rc == 0
        got = [json.loads(x, parse_constant=lambda c: pytest.fail(f"{c} written")) for x in
               out.read_text(encoding="utf-8").splitlines()]
        assert len(got) == len(raws)
        for raw, g in zip(raws, got):
            assert g["id"] == _expected_id(raw.replace(b"\n", b" "))
            assert ("error" in g) != ("rewards" in g), g
            if "rewards" in g:
                assert all(isinstance(r, float) for r in g["rewards"])
                scored.append(g["id"])
        assert "rewards" in got[at], got[at]  # the valid record was scored, whatever its neighbours
        # the finished file resumes to itself without scoring
        assert command(["score", "--input", str(inp), "--output", str(out), "--media-root", str(root),
                        "--max-line-bytes", str(MAX_LINE_BYTES), "--no-progress"]) == 0
        assert len(out.read_text(encoding="utf-8").splitlines()) == len(raws)

    memory = PeakSince()  # not ru_maxrss: the pytest process holds whatever earlier tests loaded
    check()
    assert len(scored) >= EXAMPLES  # the model path was exercised, not only the error lines
    print(f"the examples raised resident memory by {memory.growth() / 2**20:.0f} MiB")
    assert memory.growth() < GROWTH, f"the examples raised resident memory by {memory.growth() / 2**20:.0f} MiB"
    assert os.listdir(root)  # the media pool is untouched
