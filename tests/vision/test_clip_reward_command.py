"""`mmreward clip-reward` end to end on CPU: tiny CLIP, real offscreen renders."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from mmreward.cli import main

ARGS = ["clip-reward", "--clip", "tiny", "--env", "Humanoid-v5", "--goal", "a humanoid robot kneeling",
        "--baseline", "a humanoid robot", "--alpha", "0.5", "--no-progress", "--size", "96"]


@pytest.mark.slow
def test_end_to_end_textured(offline, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(ARGS + ["--episodes", "2", "--max-steps", "4", "--out", str(out), "--textured", "--seed", "3",
                      "--batch-every", "3", "--frames", "2", "--env-kwarg", "terminate_when_unhealthy=false"])
    assert rc == 0, capsys.readouterr().err
    with open(out / "rewards.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {"clip_reward", "env_reward"} <= set(rows[0])
    clip = np.array([float(r["clip_reward"]) for r in rows])
    assert np.isfinite(clip).all() and clip.std() > 0
    assert len((out / "rewards.jsonl").read_text().splitlines()) == 8
    frames = sorted((out / "frames").glob("*.png"))
    assert [f.name for f in frames] == ["ep0_step0000.png", "ep0_step0003.png", "ep1_step0000.png", "ep1_step0003.png"]
    pixels = [np.asarray(Image.open(f)).astype(int) for f in frames]
    assert all(p.shape == (96, 96, 3) and p.std() > 10 for p in pixels)  # real renders, not blank
    assert np.abs(pixels[0] - pixels[1]).mean() > 0.5  # they change across steps
    assert Image.open(out / "reward_curve.png").size == (800, 600)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["textured"] is True and summary["settings"]["env_kwarg"] == [
        ["terminate_when_unhealthy", False]]
    assert "wrote 8 steps of 2 episode(s)" in capsys.readouterr().out


def test_help_explains(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["clip-reward", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for phrase in ("--goal", "--baseline", "--alpha", "--textured", "--batch-every", "rewards.csv", "alpha=0"):
        assert phrase in text


@pytest.mark.parametrize("extra, message", [
    (["--env", "NoSuchRobot-v0"], "unknown environment 'NoSuchRobot-v0'"),
    (["--clip", "/nonexistent/clip-dir"], "is not a directory"),
    (["--alpha", "2"], "alpha must lie in [0, 1]"),
    (["--env", "Ant-v5", "--textured"], "does not apply to 'Ant-v5'"),
])
def test_errors_are_messages_not_tracebacks(offline, tmp_path, capsys, extra, message):
    assert main(ARGS + ["--out", str(tmp_path / "x"), "--max-steps", "1"] + extra) == 2
    assert message in capsys.readouterr().err
