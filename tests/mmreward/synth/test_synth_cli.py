"""`mmreward synth images|videos` through the real CLI entry point."""
import json

from mmreward.cli import main
from mmreward.synth import to_pointwise
from mmreward.synth.images import make_image_pairs


def test_cli_images_equals_api(tmp_path, capsys):
    rc = main(["synth", "images", "--out", str(tmp_path / "cli"), "--n", "5", "--seed", "2", "--size", "64"])
    assert rc == 0 and "wrote 5 pairs" in capsys.readouterr().out
    api = make_image_pairs(tmp_path / "api", n=5, seed=2, size=64)
    assert [json.loads(x) for x in open(tmp_path / "cli/pairs.jsonl")] == api
    assert (tmp_path / "cli/images/00004_1.png").read_bytes() == (tmp_path / "api/images/00004_1.png").read_bytes()


def test_cli_videos_with_options(tmp_path):
    rc = main(["synth", "videos", "--out", str(tmp_path), "--n", "4", "--seed", "1", "--frames", "8",
               "--defects", "vanish,flicker", "--test-fraction", "0.5"])
    assert rc == 0
    records = [json.loads(x) for f in ("train.jsonl", "test.jsonl") for x in open(tmp_path / f)]
    assert len(records) == 4 and {r["meta"]["defect"] for r in records} <= {"vanish", "flicker"}


def test_cli_rejects_bad_vocabulary(tmp_path, capsys):
    assert main(["synth", "images", "--out", str(tmp_path), "--n", "1", "--shapes", "circle,hexagon"]) == 2
    assert "--shapes needs at least two of circle" in capsys.readouterr().err


def test_pointwise_view():
    pairs = [{"id": "p", "prompt": "a red circle", "chosen": 1, "meta": {},
              "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]}]
    assert to_pointwise(pairs) == [
        {"id": "p/0", "prompt": "a red circle", "candidates": [{"images": ["a.png"]}], "label": 0.0},
        {"id": "p/1", "prompt": "a red circle", "candidates": [{"images": ["b.png"]}], "label": 1.0},
    ]
