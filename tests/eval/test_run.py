"""`eval run`: mechanics with a stand-in model (resume, missing media, limit, bad
results, embedded media), then the tiny Qwen2.5-VL end to end through the CLI on
VL-RewardBench rows with synthesised images and VideoGen rows with the real videos."""
import json
import shutil

import pytest
from PIL import Image

import eval.run as run_mod
from evalhelpers import BENCH, VIDEOS, needs, write_jsonl
from eval.errors import DataError
from eval.run import run

VL_DATA = BENCH / "vl-rewardbench" / "data.jsonl"


class FakeModel:
    """Prefers the first candidate; records what it was asked to score."""

    def __init__(self, bad_rows=()):
        self.seen = []
        self.bad_rows = set(bad_rows)

    def score(self, records, media_root=None, batch_size=8, progress=False):
        self.seen += [r["id"] for r in records]
        out = []
        for r in records:
            if int(r["id"]) in self.bad_rows:
                out.append({"id": r["id"], "error": "candidate 0: cannot decode"})
            else:
                out.append({"id": r["id"], "rewards": [1.0, 0.0], "preferred": 0})
        return out


def _vl_rows(n=6):
    rows = [json.loads(x) for x in VL_DATA.read_text().splitlines()[:n]]
    return rows


def _synth_images(root, rows, skip=()):
    for i, r in enumerate(rows):
        if i in skip:
            continue
        path = root / r["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (56, 56), (40 * i % 255, 100, 200)).save(path)


@pytest.fixture
def vl_setup(tmp_path):
    rows = _vl_rows()
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    media = tmp_path / "media"
    _synth_images(media, rows, skip={2})
    return data, media, rows


@needs(VL_DATA)
def test_missing_media_stops_with_a_report(vl_setup, tmp_path, monkeypatch):
    data, media, rows = vl_setup
    monkeypatch.setattr(run_mod, "load_model", lambda *a: pytest.fail("no model before the media check"))
    with pytest.raises(DataError, match=rf"(?s)1 of 6 items.*row 2 \(id '{rows[2]['id']}'\): {rows[2]['image_path']}.*--skip-missing"):
        run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=media)


@needs(VL_DATA)
def test_skip_missing_resume_and_limit(vl_setup, tmp_path, monkeypatch):
    data, media, rows = vl_setup
    model = FakeModel(bad_rows={4})
    monkeypatch.setattr(run_mod, "load_model", lambda *a: model)
    out_dir = tmp_path / "out"
    metrics = run("vl-rewardbench", data, out_dir, "fake", media_root=media, skip_missing=True, limit=5, batch_size=2)
    assert model.seen == ["0", "1", "3", "4"]  # row 2 has no image, row 5 is past --limit
    assert metrics["all/n"] == 3 and metrics["all/skipped"] == 2
    lines = [json.loads(x) for x in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert {ln["row"]: ("error" in ln) for ln in lines} == {0: False, 1: False, 2: True, 3: False, 4: True}
    assert all(ln["id"] == rows[ln["row"]]["id"] for ln in lines)
    for name in ("metrics.json", "metrics.md", "accuracy_by_category.png", "reward_margin_hist.png"):
        assert (out_dir / name).stat().st_size > 0
    assert json.loads((out_dir / "metrics.json").read_text()) == metrics

    # second run: the image appears, row 4 works now; rows 0, 1, 3 are not recomputed
    _synth_images(media, rows)
    model.seen, model.bad_rows = [], set()
    metrics = run("vl-rewardbench", data, out_dir, "fake", media_root=media, batch_size=2)
    assert model.seen == ["2", "4", "5"]
    assert metrics["all/n"] == 6 and metrics["all/skipped"] == 0
    rows_written = [json.loads(x)["row"] for x in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert sorted(rows_written) == list(range(6))  # no duplicates after the retry


@needs(VL_DATA)
def test_out_dir_of_other_data_is_refused(vl_setup, tmp_path, monkeypatch):
    data, media, _ = vl_setup
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    write_jsonl(out_dir / "predictions.jsonl", [{"row": 0, "id": "someone-else", "rewards": [0, 1]}])
    monkeypatch.setattr(run_mod, "load_model", lambda *a: FakeModel())
    with pytest.raises(DataError, match="another data file"):
        run("vl-rewardbench", data, out_dir, "fake", media_root=media, skip_missing=True)


def test_symlink_out_of_media_root_is_refused(tmp_path, monkeypatch):
    outside = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(outside)
    media = tmp_path / "media"
    (media / "images").mkdir(parents=True)
    (media / "images" / "a.png").symlink_to(outside)
    data = write_jsonl(tmp_path / "d.jsonl", [{"id": "wildvision_1", "image_path": "images/a.png", "query": "q",
                                               "response": ["a", "b"], "human_ranking": [0, 1]}])
    monkeypatch.setattr(run_mod, "load_model", lambda *a: FakeModel())
    with pytest.raises(DataError, match=r"row 0 \(id 'wildvision_1'\).*outside the media root"):
        run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=media)


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/hostname", "https://example.org/a.png"])
def test_unsafe_paths_stop_the_run_before_scoring(tmp_path, monkeypatch, bad):
    data = write_jsonl(tmp_path / "d.jsonl", [
        {"id": "ok", "image_path": "a.png", "query": "q", "response": ["a", "b"], "human_ranking": [0, 1]},
        {"id": "evil", "image_path": bad, "query": "q", "response": ["a", "b"], "human_ranking": [0, 1]}])
    monkeypatch.setattr(run_mod, "load_model", lambda *a: pytest.fail("must not score"))
    with pytest.raises(DataError, match=r"row 1 \(id 'evil'\): media path"):
        run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=tmp_path, skip_missing=True)


class RaisingModel(FakeModel):
    """Fails on any chunk holding row 1: with a per-record error (the model cannot take that
    input), or with a bug."""

    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def score(self, records, media_root=None, batch_size=8, progress=False):
        if any(r["id"] == "1" for r in records):
            raise self.exc
        return super().score(records, media_root, batch_size, progress)


@needs(VL_DATA)
def test_a_record_that_crashes_the_model_becomes_an_error_line(vl_setup, tmp_path, monkeypatch):
    from mmreward.errors import ModelInputError

    data, media, _ = vl_setup
    monkeypatch.setattr(run_mod, "load_model", lambda *a: RaisingModel(ModelInputError("decoder crashed")))
    metrics = run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=media, skip_missing=True, batch_size=4)
    lines = {json.loads(x)["row"]: json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()}
    assert "decoder crashed" in lines[1]["error"] and "rewards" in lines[0] and "rewards" in lines[3]
    assert metrics["all/n"] == 4 and metrics["all/skipped"] == 2


@needs(VL_DATA)
def test_a_bug_in_the_model_fails_the_run_loudly(vl_setup, tmp_path, monkeypatch):
    data, media, rows = vl_setup
    monkeypatch.setattr(run_mod, "load_model", lambda *a: RaisingModel(KeyError("a bug")))
    with pytest.raises(KeyError, match="a bug"):
        run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=media, skip_missing=True, batch_size=1)
    # no "model failed" lines: what was scored before the bug stays, and the next run resumes from it
    assert [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()] == [
        {"row": 0, "id": rows[0]["id"], "rewards": [1.0, 0.0]}]
    model = FakeModel()
    monkeypatch.setattr(run_mod, "load_model", lambda *a: model)
    metrics = run("vl-rewardbench", data, tmp_path / "out", "fake", media_root=media, skip_missing=True)
    assert model.seen == ["1", "3", "4", "5"] and metrics["all/n"] == 5


def test_embedded_parquet_images_are_unpacked(tmp_path, monkeypatch):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, format="PNG")
    pq.write_table(pa.table({"id": ["RLHF-1"], "query": ["q"], "response": [["a", "b"]],
                             "image": [{"bytes": buf.getvalue(), "path": "x.png"}], "human_ranking": [[0, 1]]}),
                   tmp_path / "vl.parquet")
    monkeypatch.setattr(run_mod, "load_model", lambda *a: FakeModel())
    metrics = run("vl-rewardbench", tmp_path / "vl.parquet", tmp_path / "out", "fake")
    assert metrics["all/accuracy"] == 1.0
    assert (tmp_path / "out" / "media" / "embedded" / "000000-x.png").read_bytes() == buf.getvalue()


# ---- the tiny model, end to end through `mmreward eval run` ----

@pytest.fixture(scope="module")
def tiny_once():
    """Load the tiny model once for this module through the real `load_model`."""
    mmreward = pytest.importorskip("mmreward")
    if not hasattr(mmreward, "load"):
        pytest.skip("mmreward.load not available")
    cache = {}
    real = run_mod.load_model

    def cached(*args):
        key = repr(args)
        if key not in cache:
            cache[key] = real(*args)
        return cache[key]
    return cached


def _cli(argv):
    from mmreward.cli import main

    return main(["eval", *argv])


@pytest.mark.slow
@needs(VL_DATA)
def test_tiny_model_on_vl_rewardbench(tiny_once, vl_setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_mod, "load_model", tiny_once)
    data, media, rows = vl_setup
    out_dir = tmp_path / "out"
    base = ["run", "--benchmark", "vl-rewardbench", "--data", str(data), "--media-root", str(media),
            "--model", "tiny", "--out", str(out_dir), "--batch-size", "4"]
    assert _cli(base) == 2  # row 2's image is missing
    assert f"row 2 (id '{rows[2]['id']}')" in capsys.readouterr().err
    assert _cli(base + ["--skip-missing", "--limit", "4", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["all/n"] == 3 and metrics["all/skipped"] == 1
    preds = [json.loads(x) for x in (out_dir / "predictions.jsonl").read_text().splitlines()]
    scored = [p for p in preds if "rewards" in p]
    assert len(scored) == 3 and all(len(p["rewards"]) == 2 for p in scored)
    for name in ("metrics.json", "metrics.md", "accuracy_by_category.png", "reward_margin_hist.png"):
        assert (out_dir / name).stat().st_size > 0


@pytest.mark.slow
@needs(VIDEOS / "example.csv")
def test_tiny_model_on_videogen_rows_with_real_videos(tiny_once, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_mod, "load_model", tiny_once)
    media = tmp_path / "media"
    (media / "videos").mkdir(parents=True)
    for name in ("example_2_A.mp4", "example_3_B.mp4"):
        shutil.copy(VIDEOS / name, media / "videos" / name)
    csv = tmp_path / "videogen.csv"
    csv.write_text(
        "path_A,path_B,prompt,VQ,MQ,TA,Overall\n"
        "videos/example_2_A.mp4,./videos/example_3_B.mp4,\"an explorer, at night\",A,same,B,A\n"
        "videos/example_1_A.mp4,videos/example_3_B.mp4,a girl sits,B,B,A,B\n"
    )
    out_dir = tmp_path / "out"
    argv = ["run", "--benchmark", "videogen-rewardbench", "--data", str(csv), "--media-root", str(media),
            "--model", "tiny", "--out", str(out_dir), "--batch-size", "1", "--json"]
    assert _cli(argv) == 2
    assert "row 1: videos/example_1_A.mp4" in capsys.readouterr().err
    assert _cli(argv + ["--skip-missing"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["all/n"] == 1 and metrics["all/skipped"] == 1
    assert set(metrics) >= {"VQ/accuracy_with_ties", "Overall/accuracy_without_ties", "TA/n"}
    assert json.loads((out_dir / "metrics.json").read_text()) == metrics
    assert (out_dir / "reward_margin_hist.png").stat().st_size > 0


def _native_rows(benchmark):
    """Two items per benchmark in its native schema, naming the real example videos
    (or a synthesised image), for a run with the stand-in model."""
    a, b = "example_1_A.mp4", "example_2_B.mp4"
    if benchmark == "genai-bench-video":
        return "g.jsonl", [{"prompt": "p", "left_video": a, "right_video": b, "vote_type": v}
                           for v in ("leftvote", "rightvote")]
    if benchmark == "mj-bench-video":
        return "t.json", [{"caption": "c", "video_0_path": a, "video_1_path": b, "overall_preference": p,
                           "category_preference": {"Alignment": p}} for p in ("Video 1 better", "Video 2 better")]
    if benchmark == "mm-rlhf-rewardbench":
        return "m.jsonl", [{"id": "v1", "video": a, "prompt": "p", "chosen": "x", "rejected": "y"},
                           {"id": "i1", "image": "img.png", "prompt": "p", "chosen": "x", "rejected": "y"}]
    return "all_data.json", [{"ID": f"vqa_{i}", "Image": "img.png", "Text": "t", "Output1": "x", "Output2": "y",
                              "Better": better, "Category": "vqa"} for i, better in enumerate(("Output1", "Output2"))]


@needs(VIDEOS / "example_1_A.mp4")
@pytest.mark.parametrize("benchmark", ["genai-bench-video", "mj-bench-video", "mm-rlhf-rewardbench",
                                       "multimodal-rewardbench"])
def test_native_schemas_become_scoring_records(benchmark, tmp_path, monkeypatch):
    media = tmp_path / "media"
    media.mkdir()
    for name in ("example_1_A.mp4", "example_2_B.mp4"):
        (media / name).symlink_to(VIDEOS / name)  # symlinks out of the root are refused...
    Image.new("RGB", (28, 28)).save(media / "img.png")
    name, rows = _native_rows(benchmark)
    data = tmp_path / name
    data.write_text(json.dumps(rows) if name.endswith(".json") else "".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(run_mod, "load_model", lambda *a: FakeModel())
    if benchmark != "multimodal-rewardbench":  # the one without videos
        with pytest.raises(DataError, match="outside the media root"):
            run(benchmark, data, tmp_path / "out", "fake", media_root=media)
    for link in ("example_1_A.mp4", "example_2_B.mp4"):  # ...so copy the real videos in
        (media / link).unlink()
        shutil.copy(VIDEOS / link, media / link)
    model = FakeModel()
    seen = []
    monkeypatch.setattr(model, "score", lambda records, **kw: seen.extend(records) or FakeModel().score(records))
    monkeypatch.setattr(run_mod, "load_model", lambda *a: model)
    metrics = run(benchmark, data, tmp_path / "out", "fake", media_root=media)
    assert [r["id"] for r in seen] == ["0", "1"] and all(len(r["candidates"]) == 2 for r in seen)
    assert metrics["all/n"] == 2 and metrics["all/skipped"] == 0
    # the stand-in always prefers candidate 0: right on the first item only (MM-RLHF: chosen is first)
    first = {"genai-bench-video": "all/accuracy_without_ties", "mj-bench-video": "all/accuracy_strict",
             "mm-rlhf-rewardbench": "all/accuracy", "multimodal-rewardbench": "all/accuracy"}[benchmark]
    assert metrics[first] == (1.0 if benchmark == "mm-rlhf-rewardbench" else 0.5)


@needs(VL_DATA)
@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_shard_the_rows_and_agree_with_one(vl_setup, tmp_path):
    """`eval run` under torchrun (gloo, no GPU): rows sharded over 2 processes through the
    scoring writer's part files, merged in row order; same predictions as one process."""
    import os
    import subprocess
    import sys

    data, media, rows = vl_setup
    _synth_images(media, rows)
    argv = ["eval", "run", "--benchmark", "vl-rewardbench", "--data", str(data), "--media-root", str(media),
            "--model", "tiny", "--batch-size", "2", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m",
                          "mmreward.cli", *argv, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count('"all/n": 6') == 1  # only the main process reports
    one = subprocess.run([sys.executable, "-m", "mmreward.cli", *argv, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = ([json.loads(x) for x in (tmp_path / d / "predictions.jsonl").read_text().splitlines()]
            for d in ("one", "two"))
    assert [x["row"] for x in b] == list(range(6)) and [x["row"] for x in a] == list(range(6))
    for x, y in zip(a, b):
        assert x["rewards"] == pytest.approx(y["rewards"], abs=1e-5)
    assert not list((tmp_path / "two").glob("predictions.jsonl.*"))  # parts merged, lock released
