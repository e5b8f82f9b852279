"""The released models through the CLI: `convert`, the README's `models` table, `score` and `eval run`
(VideoReward)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mmreward
from mmreward.cli import main
from mmreward.registry import CATALOG, find_loader
from official_layouts import SMALL_CLIPS, VIDEOS, needs_data

pytestmark = needs_data
README = Path(__file__).resolve().parents[3] / "README.md"
RECORD = {"id": "v", "prompt": "A girl in a pink dress sits on a chair in a cozy bedroom.",
          "candidates": [{"videos": [c]} for c in SMALL_CLIPS]}


@pytest.mark.slow
def test_convert_round_trip_scores_the_same(videoreward, videoreward_rm, clip_root, tmp_path, capsys):
    from mmreward.presets import videoreward as module

    out = tmp_path / "converted"
    assert main(["convert", "--from", "videoreward", str(videoreward["release"]), "--out", str(out)]) == 0
    assert find_loader(str(out)) is module.load
    assert not (out / "model_config.json").exists() and (out / "model.safetensors").is_file()
    converted = mmreward.load(str(out), device="cpu", normalize=False)
    raw = converted.score([RECORD], media_root=clip_root)[0]
    videoreward_rm.normalize = False
    try:
        release_raw = videoreward_rm.score([RECORD], media_root=clip_root)[0]
    finally:
        videoreward_rm.normalize = True
    converted.normalize = True
    normalised = converted.score([RECORD], media_root=clip_root)[0]
    release = videoreward_rm.score([RECORD], media_root=clip_root)[0]
    for got, want in ((raw, release_raw), (normalised, release)):
        assert got["rewards"] == pytest.approx(want["rewards"], abs=1e-5)
        for dim in ("VQ", "MQ", "TA"):
            assert got["dimensions"][dim] == pytest.approx(want["dimensions"][dim], abs=1e-5)
    assert raw["rewards"] != pytest.approx(normalised["rewards"], abs=1e-3)  # normalize=False is raw
    # a second conversion into the same directory is refused, in one line
    assert main(["convert", "--from", "videoreward", str(videoreward["release"]), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_the_readme_shows_the_catalog():
    from mmreward.commands.models import markdown

    assert markdown(CATALOG) in README.read_text(), \
        "README's released-models table is stale: paste `mmreward models --format markdown` into it"


@pytest.mark.slow
def test_score_command_writes_vq_mq_ta(videoreward, clip_root, tmp_path, capsys):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(RECORD) + "\n" + json.dumps({"id": "bad", "prompt": "p", "candidates": [
        {"videos": ["gone.mp4"]}]}) + "\n")
    assert main(["score", "--model", str(videoreward["release"]), "--input", str(src), "--output", str(dst),
                 "--media-root", str(clip_root), "--device", "cpu", "--no-progress"]) == 0
    good, bad = [json.loads(x) for x in dst.read_text().splitlines()]
    assert set(good["dimensions"]) == {"VQ", "MQ", "TA"}
    assert good["rewards"] == pytest.approx([sum(good["dimensions"][d][i] for d in ("VQ", "MQ", "TA"))
                                            for i in range(2)], abs=1e-6)
    assert "'gone.mp4' not found" in bad["error"]
    # an option the released model does not take is a one-line error, exit 2
    assert main(["score", "--model", str(videoreward["release"]), "--input", str(src), "--output",
                 str(tmp_path / "x.jsonl"), "--criteria", "motion", "--device", "cpu"]) == 2
    assert "criteria" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_run_reports_per_dimension_accuracies(videoreward, tmp_path):
    """The real VideoGen-RewardBench-schema CSV (its first 3 rows); the example_2/example_3 clips
    present, example_1's missing (skipped, as --skip-missing does)."""
    from eval.run import run

    root = tmp_path / "media"
    (root / "videos").mkdir(parents=True)
    for name in ("example_2_A.mp4", "example_2_B.mp4", "example_3_A.mp4", "example_3_B.mp4"):
        shutil.copyfile(VIDEOS / name, root / "videos" / name)
    metrics = run("videogen-rewardbench", VIDEOS / "example.csv", tmp_path / "out", str(videoreward["release"]),
                  media_root=root, skip_missing=True, batch_size=2, limit=3)
    assert metrics["all/n"] == 2 and metrics["all/skipped"] == 1
    for dim in ("VQ", "MQ", "TA"):
        assert f"{dim}/accuracy_with_ties" in metrics and f"{dim}/n" in metrics
    preds = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    scored = [p for p in preds if "rewards" in p]
    assert len(scored) == 2 and all(set(p["rewards"]) == {"VQ", "MQ", "TA", "Overall"} for p in scored)
