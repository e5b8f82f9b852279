"""Sampled video frames reach the processor with their timing (fps, frame indices)."""
from __future__ import annotations

import numpy as np
import pytest

import mmreward
from mmreward.scoring.batching import collate
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import pointwise_question
from mmreward.scoring.records import load_item
from video.writer import write_mp4


@pytest.fixture(scope="module")
def clip_record(tmp_path_factory):
    """A 40-frame, 8 fps (5 s) clip: 8 sampled frames span it at 1.6 frames per second."""
    root = tmp_path_factory.mktemp("timing")
    frames = np.zeros((40, 56, 56, 3), np.uint8)
    frames[:, :, :, 0] = np.linspace(0, 255, 40, dtype=np.uint8)[:, None, None]
    write_mp4(root / "c.mp4", frames, fps=8)
    return root, {"id": "t", "prompt": "a fade", "candidates": [{"videos": ["c.mp4"]}]}


@pytest.mark.slow
def test_qwen25_temporal_step_comes_from_the_real_fps(clip_record):
    root, record = clip_record
    rm = mmreward.load("tiny", "scalar", device="cpu")
    item = load_item(record, MediaOptions(media_root=root, video_frames=8))
    clip = item.candidates[0].videos[0]
    assert clip.fps == 8.0 and clip.total_frames == 40 and len(clip.indices) == 8
    batch = collate(rm.processor, [pointwise_question(item, item.candidates[0])])
    # 2 frames per temporal patch, sampled at 8 * 8/40 = 1.6 fps -> 1.25 s per grid step
    # (bare frames would be taken as 24 fps: 0.083 s, squeezing 5 s of video into 0.33 s)
    assert batch["second_per_grid_ts"].tolist() == pytest.approx([1.25])
    assert "error" not in rm.score([record], media_root=root)[0]
