"""The resumable writer with a stand-in model (real records and media, no network): what is
retried on resume, part files, the output lock, strict JSON out, and which failures are whose."""
import json
import math
import os

import pytest
from PIL import Image

from mmreward.errors import InputError, RecordError
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.outputs import error_output
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.records import load_item
from mmreward.scoring.score_file import score_file


class LengthModel(BaseRewardModel):
    """Reward = prompt length + candidate index; media are decoded for real."""

    def __init__(self, fail=None):
        self.seen, self.fail = [], fail

    def score_chunk(self, records, media_root=None, batch_size=8):
        if self.fail is not None and any(r.get("id") == "boom" for r in records):
            raise self.fail
        outs = []
        for r in records:
            self.seen.append(r.get("id"))
            try:
                item = load_item(r, MediaOptions(media_root=media_root))
            except RecordError as exc:
                outs.append(error_output(r.get("id"), exc))
                continue
            rewards = [float(len(item.prompt) + i) for i in range(len(item.candidates))]
            if item.prompt == "nan":
                rewards[0] = math.nan
            outs.append({"id": item.id, "rewards": rewards, "preferred": len(rewards) - 1})
        return outs


def _write(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _read(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def _rec(rid, image="a.png", prompt="p"):
    return {"id": rid, "prompt": prompt, "candidates": [{"images": [image]}, {"text": "t"}]}


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    Image.new("RGB", (8, 8)).save(root / "a.png")
    return root


def test_missing_media_are_retried_on_resume_and_retry_errors_rescores_the_rest(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec("r0"), _rec("r1", "b.png"), {"id": "r2"}, _rec("r3")])
    out = tmp_path / "out.jsonl"
    model = LengthModel()
    assert score_file(model, inp, out, media, progress=False)["errors"] == 2
    first = _read(out)
    assert first[1]["retryable"] is True and "'b.png' not found" in first[1]["error"]
    assert "retryable" not in first[2] and "'prompt'" in first[2]["error"]

    Image.new("RGB", (8, 8)).save(media / "b.png")  # the file arrives
    model.seen = []
    summary = score_file(model, inp, out, media, progress=False)
    assert model.seen == ["r1"] and summary == {"lines": 4, "errors": 1, "resumed_from": 3, "retried": 1}
    now = _read(out)
    assert [g["id"] for g in now] == ["r0", "r1", "r2", "r3"] and "rewards" in now[1]
    assert now[0] == first[0] and now[3] == first[3]

    model.seen = []
    assert score_file(model, inp, out, media, progress=False, retry_errors=True)["retried"] == 1
    assert model.seen == ["r2"] and _read(out)[2] == first[2]
    assert not list(tmp_path.glob("out.jsonl.*"))  # no part, tmp or lock file left


def test_error_lines_from_before_the_retryable_mark_are_retried(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec("r0"), _rec("r1")])
    out = _write(tmp_path / "out.jsonl", [{"id": "r0", "error": "candidate 0: image 'a.png' not found under media root"},
                                          {"id": "r1", "error": "missing or non-string field 'prompt'"}])
    model = LengthModel()
    score_file(model, inp, out, media, progress=False)
    assert model.seen == ["r0"] and "rewards" in _read(out)[0] and "error" in _read(out)[1]


def test_part_files_of_a_killed_two_process_run_are_used_by_a_one_process_resume(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec(f"r{i}") for i in range(6)])
    out = tmp_path / "out.jsonl"
    line = lambda i: json.dumps({"_line": i, "id": f"r{i}", "rewards": [-1.0, -2.0], "preferred": 0})  # noqa: E731
    (tmp_path / "out.jsonl.part0-of-2").write_text(line(0) + "\n" + line(2) + "\n")
    (tmp_path / "out.jsonl.part1-of-2").write_text(line(1) + "\n" + line(3)[:20])  # torn by the kill
    model = LengthModel()
    score_file(model, inp, out, media, progress=False)
    assert model.seen == ["r3", "r4", "r5"]
    got = _read(out)
    assert [g["id"] for g in got] == [f"r{i}" for i in range(6)]
    assert [g["rewards"][0] for g in got[:3]] == [-1.0] * 3 and got[3]["rewards"][0] == 1.0
    assert not list(tmp_path.glob("out.jsonl.part*"))


def test_a_part_file_of_another_input_is_refused(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec("r0")])
    (tmp_path / "out.jsonl.part0-of-2").write_text(json.dumps({"_line": 0, "id": "other", "rewards": [1]}) + "\n")
    with pytest.raises(InputError, match="another input"):
        score_file(LengthModel(), inp, tmp_path / "out.jsonl", media, progress=False)


def test_output_lock_refuses_a_live_holder_and_takes_over_a_stale_one(tmp_path, capsys):
    from mmreward.scoring.lock import OutputLock, OutputLockedError

    out = tmp_path / "out.jsonl"
    held = OutputLock(out).acquire()
    with pytest.raises(OutputLockedError, match=rf"another run \(pid {os.getpid()} on .*, started 2\d\d\d-"):
        OutputLock(out).acquire()
    held.release()
    assert not (tmp_path / "out.jsonl.lock").exists()

    # a holder killed with -9 leaves its file, but no lock on it
    (tmp_path / "out.jsonl.lock").write_text(json.dumps({"pid": 4242, "host": "elsewhere", "started": 0}))
    lock = OutputLock(out).acquire()
    assert lock.taken_over["pid"] == 4242
    assert "taking over the lock of a run that is gone (pid 4242 on elsewhere" in capsys.readouterr().err
    assert json.loads((tmp_path / "out.jsonl.lock").read_text())["pid"] == os.getpid()
    lock.release()


def test_non_json_numbers_never_reach_the_output(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", ['{"id": NaN, "prompt": "p", "candidates": [{"text": "t"}]}',
                                         '{"id": 1e400, "prompt": "p", "candidates": [{"text": "t"}]}',
                                         json.dumps({"id": "n", "prompt": "nan", "candidates": [{"text": "t"}]}),
                                         json.dumps({"id": "ok", "prompt": "p", "candidates": [{"text": "t"}]})])
    out = tmp_path / "out.jsonl"
    score_file(LengthModel(), inp, out, media, progress=False)
    text = out.read_text()
    got = [json.loads(x, parse_constant=lambda c: pytest.fail(f"{c} in the output")) for x in text.splitlines()]
    assert "NaN is not a JSON value" in got[0]["error"] and got[0]["id"] is None
    assert "out of double range" in got[1]["error"]
    assert got[2] == {"id": "n", "error": "the model's output cannot be written as JSON "
                                          "(a non-finite number, or nested too deeply)"}
    assert got[3]["rewards"] == [1.0]
    model = LengthModel()
    assert score_file(model, inp, out, media, progress=False)["lines"] == 4  # a finished file is accepted
    assert model.seen == [] and out.read_text() == text


def test_a_record_error_raised_for_a_chunk_costs_only_its_record_and_a_bug_is_loud(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec("r0"), _rec("boom"), _rec("r2")])
    out = tmp_path / "out.jsonl"
    score_file(LengthModel(fail=RecordError("cannot take it")), inp, out, media, batch_size=3, progress=False)
    assert [g.get("error") for g in _read(out)] == [None, "cannot take it", None]
    out.unlink()
    with pytest.raises(KeyError):
        score_file(LengthModel(fail=KeyError("bug")), inp, out, media, batch_size=1, progress=False)
    assert [g["id"] for g in _read(out)] == ["r0"] and not (tmp_path / "out.jsonl.lock").exists()


def test_a_finished_output_loads_no_model(tmp_path, media):
    inp = _write(tmp_path / "in.jsonl", [_rec("r0")])
    out = tmp_path / "out.jsonl"
    score_file(LengthModel, inp, out, media, progress=False)  # a factory: called once, for r0
    score_file(lambda: pytest.fail("loaded a model for nothing"), inp, out, media, progress=False)


def test_media_root_and_options_are_checked_before_the_model_loads(tmp_path, capsys):
    from mmreward.cli import main

    inp = _write(tmp_path / "in.jsonl", [_rec("r0")])
    (tmp_path / "file").write_text("x")
    never = str(tmp_path / "never-loaded")
    base = ["score", "--model", never, "--input", str(inp), "--output", str(tmp_path / "o.jsonl")]
    for extra, message in ((["--media-root", str(tmp_path / "file")], "is not a directory"),
                           (["--media-root", str(tmp_path / "nope")], "is not a directory"),
                           (["--batch-size", "0"], "--batch-size must be at least 1"),
                           (["--max-batch-tokens", "-5"], "--max-batch-tokens must be at least 1"),
                           (["--max-prompt-tokens", "0"], "--max-prompt-tokens must be at least 1"),
                           (["--video-frames", "0"], "--video-frames must be at least 1"),
                           (["--rationale-tokens", "-3"], "--rationale-tokens must be at least 0"),
                           (["--max-line-bytes", "0"], "--max-line-bytes must be at least 1")):
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and "checkpoint" not in err[0], err
    assert not (tmp_path / "o.jsonl").exists()


def test_score_takes_a_list_not_one_record():
    with pytest.raises(TypeError, match=r"wrap a single record in a list: score\(\[record\]\)"):
        LengthModel().score(_rec("r0"))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        LengthModel().score([_rec("r0")], batch_size=0)


def test_progress_bar_runs_while_the_first_chunk_scores_and_not_after_a_failed_load(tmp_path, media, capsys):
    from tqdm import tqdm

    class BarWatcher(LengthModel):
        """Records how many progress bars are open each time it scores."""

        def __init__(self):
            super().__init__()
            self.open_bars = []

        def score_chunk(self, records, media_root=None, batch_size=8):
            self.open_bars.append(len(tqdm._instances))
            return super().score_chunk(records, media_root, batch_size)

    src = _write(tmp_path / "in.jsonl", [_rec(f"r{i}") for i in range(3)])  # fewer than one chunk
    watcher = BarWatcher()
    score_file(watcher, src, tmp_path / "out.jsonl", media_root=media, progress=True)
    assert watcher.open_bars and all(n >= 1 for n in watcher.open_bars)  # its time is on the bar
    assert "scoring: 100%" in capsys.readouterr().err

    def failing_load():
        raise InputError("no such checkpoint directory: ./runs/x")

    with pytest.raises(InputError, match="no such checkpoint"):
        score_file(failing_load, src, tmp_path / "out2.jsonl", media_root=media, progress=True)
    assert "scoring" not in capsys.readouterr().err  # only the error, no bar


def test_the_input_as_output_or_any_file_of_non_answers_is_refused(tmp_path, media, capsys):
    from mmreward.cli import main

    records = [_rec(f"r{i}") for i in range(3)]
    inp = _write(tmp_path / "in.jsonl", records)
    before = inp.read_text()
    (tmp_path / "alias.jsonl").symlink_to(inp)
    (tmp_path / "sub").mkdir()
    for out in (inp, tmp_path / "alias.jsonl", tmp_path / "sub" / ".." / "in.jsonl"):
        with pytest.raises(InputError, match="is the --input file"):
            score_file(lambda: pytest.fail("loaded a model"), inp, out, media, progress=False)
    # the same records under another name: ids match, but no line is an answer
    copy = _write(tmp_path / "copy.jsonl", records)
    with pytest.raises(InputError, match=r"line 1 is not an answer \(no 'rewards' and no 'error'"):
        score_file(lambda: pytest.fail("loaded a model"), inp, copy, media, progress=False)
    # through the CLI: one line, exit 2, both files untouched
    assert main(["score", "--input", str(inp), "--output", str(inp), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is the --input file" in err[0], err
    assert inp.read_text() == before and copy.read_text() == before


@pytest.mark.parametrize("alias", ["symlink", "dotdot", "hardlink"])
def test_one_run_per_output_whatever_name_the_output_is_given(tmp_path, media, alias):
    from mmreward.scoring.lock import OutputLock, OutputLockedError

    inp = _write(tmp_path / "in.jsonl", [_rec(f"r{i}") for i in range(4)])
    (tmp_path / "out").mkdir()
    real = tmp_path / "out" / "real.jsonl"
    score_file(LengthModel(), inp, real, media, batch_size=1, progress=False)
    half = real.read_text().splitlines(keepends=True)[:2]
    real.write_text("".join(half))  # an unfinished run: two lines left to score
    other = {"symlink": tmp_path / "out" / "alias.jsonl", "dotdot": tmp_path / "out" / ".." / "out" / "real.jsonl",
             "hardlink": tmp_path / "out" / "hard.jsonl"}[alias]
    if alias == "symlink":
        other.symlink_to(real)
    elif alias == "hardlink":
        os.link(real, other)
    holder = OutputLock(real).acquire()  # a run on the real name, in flight
    try:
        with pytest.raises(OutputLockedError, match="another run"):
            score_file(lambda: pytest.fail("loaded a model"), inp, other, media, progress=False)
    finally:
        holder.release()
    assert real.read_text() == "".join(half)
    # the holder gone, a run under the other name resumes the same file: 4 lines, each id once
    model = LengthModel()
    score_file(model, inp, other, media, progress=False)
    assert model.seen == ["r2", "r3"] and [g["id"] for g in _read(real)] == ["r0", "r1", "r2", "r3"]
    assert other.samefile(real) and not list((tmp_path / "out").glob("*.lock"))
