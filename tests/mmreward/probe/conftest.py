"""Probe test data: the real photos, frames of the real videos, real benchmark responses.

The two photos of shared/data/images are copied as they are. The videos are large (decoding
8 frames of one takes seconds here), so 8 frames of two real clips are sampled once and
written as small mp4s; their frames are the real ones. Text records take the real query and
responses of the first VL-RewardBench rows (their images are not in shared/data, so those
records are text-only).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from probe_data import CLIPS, DATA, GIRL, PHOTOS, SHARED_DATA_ENV


@pytest.fixture(scope="session")
def real_media(tmp_path_factory) -> Path:
    from mmreward.probe.media import clip_fps
    from mmreward.scoring.media import MediaOptions, open_video
    from video.writer import write_mp4

    if DATA is None:
        pytest.skip(f"shared data is absent (${SHARED_DATA_ENV}, else ../shared/data)")
    root = tmp_path_factory.mktemp("real-media")
    for name in PHOTOS:
        shutil.copy(DATA / "images" / name, root / name)
    opts = MediaOptions(media_root=DATA / "videos" / "videoalign-examples", video_frames=8,
                        video_max_frame_pixels=64 * 28 * 28)
    for name in CLIPS:
        clip = open_video(f"{name}.mp4", opts)
        h, w = clip.frames.shape[1] // 2 * 2, clip.frames.shape[2] // 2 * 2
        write_mp4(root / f"{name}.mp4", clip.frames[:, :h, :w], fps=clip_fps(clip))
    return root


@pytest.fixture(scope="session")
def battery_records() -> list[dict]:
    """One record of each kind: photo pair, VQA text pair on a photo, pointwise text, video pair."""
    return [
        {"id": "photo", "prompt": "a man ironing clothes on the back of a yellow taxi",
         "candidates": [{"images": [PHOTOS[0]]}, {"images": [PHOTOS[1]]}]},
        {"id": "vqa", "prompt": "What is the man in the picture doing?", "images": [PHOTOS[0]],
         "candidates": [{"text": "He is ironing clothes on a board fixed to the back of a taxi."},
                        {"text": "He is swimming in a lake."}]},
        {"id": "point", "prompt": "What can be seen at the end of the pier?", "images": [PHOTOS[1]],
         "candidates": [{"text": "Calm water and mountains in the distance."}]},
        {"id": "video", "prompt": GIRL, "candidates": [{"videos": [f"{CLIPS[0]}.mp4"]},
                                                       {"videos": [f"{CLIPS[1]}.mp4"]}]},
    ]
