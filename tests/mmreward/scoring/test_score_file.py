"""`mmreward score` end to end: bad lines, order, one writer per output, resume after SIGKILL."""
import json
import os
import subprocess
import sys
import time

import pytest
from PIL import Image


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


@pytest.mark.slow
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


def _wait_stopped(proc, timeout=240):
    """Until `proc` stops itself (the writer's test hook) or exits."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"the run did not stop at the hook (exit code {proc.poll()})")


@pytest.mark.slow
def test_second_run_refused_then_kill_9_and_resume_scores_each_id_once(tmp_path, image_pairs, scalar_rm, capsys,
                                                                        monkeypatch):
    """Deterministic: the first run stops itself after 20 flushed lines (holding its lock), a
    second run is refused naming it, the first is killed there, a third takes the stale lock
    over and finishes; every id once, in order, the rewards of an uninterrupted run."""
    from mmreward.cli import main
    from mmreward.scoring.score_file import STOP_AFTER_LINES_ENV

    root, records = image_pairs
    recs = [dict(r, id=f"{r['id']}-{k}") for k in range(3) for r in records]  # 72 records
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "out.jsonl"
    args = ["score", "--input", str(inp), "--output", str(out), "--media-root", str(root), "--batch-size", "4",
            "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "mmreward.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, STOP_AFTER_LINES_ENV: "20"})
    try:
        _wait_stopped(proc)
        partial = out.read_bytes()
        assert 20 <= partial.count(b"\n") < len(recs)

        assert main(args) == 2  # refused at once: no model is loaded for it
        err = capsys.readouterr().err
        assert f"being written by another run (pid {proc.pid} on " in err and "started 20" in err
        assert out.read_bytes() == partial  # the first run's output is untouched
    finally:
        proc.kill()
        proc.wait()
    monkeypatch.setattr("mmreward.commands.common.load_model", lambda *a, **k: scalar_rm)  # the same model
    assert main(args) == 0
    assert f"taking over the lock of a run that is gone (pid {proc.pid}" in capsys.readouterr().err
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in recs]
    assert out.read_bytes().startswith(partial)
    reference = scalar_rm.score(recs, media_root=root, batch_size=4)
    for g, ref in zip(got, reference):
        assert g["rewards"] == pytest.approx(ref["rewards"], abs=1e-4)
    assert not (tmp_path / "out.jsonl.lock").exists()


def test_torn_last_line_is_cut_and_rescored(tmp_path):
    from mmreward.scoring.resume import plan_resume
    from mmreward.scoring.score_file import JsonlSource

    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "rewards": [1]}\n{"id": "b", "rew')
    plan = plan_resume(JsonlSource(inp), out, retry_errors=False, world=1)
    assert (plan.todo, plan.append, plan.kept) == ([1, 2], True, 1)
    assert out.read_text() == '{"id": "a", "rewards": [1]}\n'


def test_output_of_another_input_is_refused(tmp_path, capsys):
    from mmreward.cli import main

    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "zzz", "rewards": [1]}\n')
    assert main(["score", "--input", str(inp), "--output", str(out), "--no-progress"]) == 2
    assert "another input" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.multiprocess
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
