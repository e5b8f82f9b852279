"""`mmreward score` end to end: bad lines, order, resume after SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from mmreward.scoring.score_file import completed_lines, read_records


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mmreward.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, **kw)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A media root and an input mixing good records with every kind of bad line."""
    root = tmp_path_factory.mktemp("score")
    media = root / "media"
    media.mkdir()
    for i in range(6):
        Image.new("RGB", (56, 56), (40 * i, 100, 200 - 30 * i)).save(media / f"{i}.png")
    Image.new("RGB", (56, 56), (1, 2, 3)).save(media / "full.jpg")
    data = (media / "full.jpg").read_bytes()
    (media / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (300, 300)).save(media / "huge.png")
    (root / "secret.png").write_bytes((media / "0.png").read_bytes())
    good = lambda i: {"id": f"ok{i}", "prompt": "a picture",  # noqa: E731
                      "candidates": [{"images": [f"{i}.png"]}, {"images": [f"{(i + 1) % 6}.png"]}]}
    lines = [json.dumps(good(0)), "{not json",
             json.dumps({"id": "missing", "prompt": "p", "candidates": [{"images": ["nope.png"]}]}),
             json.dumps(good(1)),
             json.dumps({"id": "truncated", "prompt": "p", "candidates": [{"images": ["cut.jpg"]}]}),
             json.dumps({"id": "escape", "prompt": "p", "candidates": [{"images": ["../secret.png"]}]}),
             json.dumps({"id": "huge", "prompt": "p", "candidates": [{"images": ["huge.png"]}]}),
             json.dumps({"id": "nofield", "candidates": [{"text": "x"}]}),
             json.dumps(good(2)),
             json.dumps({"id": "text", "prompt": "Which?", "images": ["3.png"],
                         "candidates": [{"text": "A cat."}, {"text": "A dog."}]})]
    (root / "in.jsonl").write_text("\n".join(lines) + "\n")
    return root


def test_bad_lines_become_error_lines_in_order(mixed):
    out = mixed / "out.jsonl"
    res = _cli("score", "--input", str(mixed / "in.jsonl"), "--output", str(out), "--media-root",
               str(mixed / "media"), "--max-image-pixels", "50000", "--batch-size", "3", "--no-progress")
    assert res.returncode == 0, res.stderr
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["id"] for g in got] == ["ok0", None, "missing", "ok1", "truncated", "escape", "huge",
                                      "nofield", "ok2", "text"]
    errors = {g["id"]: g.get("error", "") for g in got}
    assert "invalid JSON" in errors[None] and "line 2" in errors[None]
    assert "'nope.png' not found" in errors["missing"]
    assert "'cut.jpg' is corrupt or truncated" in errors["truncated"]
    assert "media root" in errors["escape"]
    assert "over the cap" in errors["huge"]
    assert "'prompt'" in errors["nofield"]
    for g in got:
        if g["id"] in ("ok0", "ok1", "ok2", "text"):
            assert len(g["rewards"]) == 2 and g["preferred"] in (0, 1)


def test_sigkill_half_way_then_resume_scores_each_id_once(tmp_path, image_pairs):
    root, records = image_pairs
    recs = [dict(r, id=f"{r['id']}-{k}") for k in range(5) for r in records]  # 120 records
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out.jsonl"
    args = [sys.executable, "-m", "mmreward.cli", "score", "--input", str(inp), "--output", str(out),
            "--media-root", str(root), "--batch-size", "4", "--no-progress"]
    proc = subprocess.Popen(args, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 20):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n")
    assert 0 < partial < len(recs), "the kill should land half way"
    res = _cli("score", "--input", str(inp), "--output", str(out), "--media-root", str(root),
               "--batch-size", "4", "--no-progress")
    assert res.returncode == 0, res.stderr
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert ids == [r["id"] for r in recs]
    reference = tmp_path / "ref.jsonl"
    _cli("score", "--input", str(inp), "--output", str(reference), "--media-root", str(root),
         "--batch-size", "4", "--no-progress")
    for a, b in zip(out.read_text().splitlines(), reference.read_text().splitlines()):
        assert json.loads(a)["rewards"] == pytest.approx(json.loads(b)["rewards"], abs=1e-4)


def test_torn_last_line_is_cut_and_rescored(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "rewards": [1]}\n{"id": "b", "rew')
    assert completed_lines(out, read_records(inp)) == 1
    assert out.read_text() == '{"id": "a", "rewards": [1]}\n'


def test_output_of_another_input_is_refused(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "zzz", "rewards": [1]}\n')
    res = _cli("score", "--input", str(inp), "--output", str(out), "--no-progress")
    assert res.returncode == 2 and "another input" in res.stderr


def test_accelerate_two_processes_merge_in_input_order(mixed, tmp_path):
    single = tmp_path / "single.jsonl"
    _cli("score", "--input", str(mixed / "in.jsonl"), "--output", str(single), "--media-root",
         str(mixed / "media"), "--no-progress")
    sharded = tmp_path / "sharded.jsonl"
    # torchrun, not `accelerate launch --cpu` (which starts one process): on a machine without a
    # GPU the processes meet over gloo
    res = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "-m", "mmreward.cli", "score", "--input", str(mixed / "in.jsonl"), "--output", str(sharded),
         "--media-root", str(mixed / "media"), "--no-progress"],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "2 processes" in res.stderr
    a = [json.loads(x) for x in single.read_text().splitlines()]
    b = [json.loads(x) for x in sharded.read_text().splitlines()]
    assert [x["id"] for x in a] == [x["id"] for x in b]
    for x, y in zip(a, b):
        assert ("error" in x) == ("error" in y)
        if "rewards" in x:
            assert x["rewards"] == pytest.approx(y["rewards"], abs=1e-4)
    assert not list(tmp_path.glob("sharded.jsonl.part*"))
