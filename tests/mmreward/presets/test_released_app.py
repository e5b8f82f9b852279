"""The Gradio judge (app.py, mmreward/ui/judge.py) with a released model: VideoReward's VQ/MQ/TA
appear per candidate, a generative judge's own answer is shown."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from official_layouts import SMALL_CLIPS, VIDEOS, needs_data

pytestmark = needs_data
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))


@pytest.mark.slow
def test_video_pair_shows_vq_mq_ta(videoreward_rm):
    import app
    from mmreward.ui import judge

    result = judge.judge_pair(videoreward_rm, "videos", [str(VIDEOS / c) for c in SMALL_CLIPS],
                              "A girl in a pink dress sits on a chair.")
    assert "error" not in result, result
    rows = {label: (a, b) for label, a, b in judge.result_rows(result)}
    assert set(rows) == {"reward", "VQ", "MQ", "TA"}
    page = app.result_markdown(result, videoreward_rm, "videos")
    for dim in ("VQ", "MQ", "TA"):
        assert f"| {dim} | {app.fmt(rows[dim][0])} | {app.fmt(rows[dim][1])} |" in page
    banner = app.model_banner(videoreward_rm, "VideoReward")
    assert "VQ, MQ, TA" in banner and "videoreward" in banner


def test_judge_text_is_shown_escaped(videoreward_rm):
    import app

    result = {"rewards": [0.5, 0.5], "preferred": None, "names": ["a.png", "b.png"],
              "judge_text": ["<b>Image 1</b> looks sharper"], "verdict_parsed": [False]}
    page = app.result_markdown(result, videoreward_rm, "images")
    assert "&lt;b&gt;Image 1&lt;/b&gt; looks sharper" in page and "<b>" not in page
    assert "no verdict found" in page
