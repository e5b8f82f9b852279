"""Fixtures for the agent tests: the tiny model, small clips, synthetic agent items."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXAMPLES = (Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "videos"
            / "videoalign-examples").resolve()


def call(frames) -> str:
    import json

    return "<tool_call>" + json.dumps({"name": "select_frames", "arguments": {"target_frames": frames}}) \
        + "</tool_call>"


@pytest.fixture(name="call", scope="session")
def _call():
    return call


@pytest.fixture(scope="session")
def examples() -> Path:
    """The six real text-to-video outputs in shared/data (read only)."""
    if not EXAMPLES.is_dir():
        pytest.skip(f"{EXAMPLES} not found")
    return EXAMPLES


SMALL = dict(initial_frames=2, candidate_frames=8, max_turns=3, max_frames_per_call=3, memory_window=1,
             max_new_tokens=6, frame_max_pixels=56 * 56)


@pytest.fixture(scope="session")
def small_config():
    """The published protocol (the default), small: 8 candidate frames a video (numbered 1..16 across
    the pair), 2 shown first, 56x56 frames (4 image tokens each): fast on CPU."""
    from mmreward.agent.config import AgentConfig

    return AgentConfig(**SMALL)


@pytest.fixture(scope="session")
def v1_config():
    """The same sizes in the suite's first dialect ("mmreward-v1": per-video numbers 1..8)."""
    from mmreward.agent.config import AgentConfig

    return AgentConfig(protocol="mmreward-v1", **SMALL)


@pytest.fixture(scope="session")
def tiny():
    from mmreward.models.backbone import BackboneOptions, load_backbone

    model, processor, _ = load_backbone("tiny", BackboneOptions(device="cpu", dtype="float32",
                                                                 min_pixels=28 * 28, max_pixels=64 * 28 * 28))
    return model, processor


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> tuple[Path, list[str]]:
    """(folder, [a.mp4, b.mp4]): 16 frames each, every frame a distinct flat colour."""
    from video.writer import write_mp4

    root = tmp_path_factory.mktemp("clips")
    names = []
    for v in range(2):
        frames = np.zeros((16, 56, 56, 3), dtype=np.uint8)
        for i in range(16):
            frames[i] = (15 * i, 60 + 100 * v, 255 - 15 * i)
        write_mp4(root / f"clip{v}.mp4", frames)
        names.append(f"clip{v}.mp4")
    return root, names


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from mmreward.synth.agent import make_agent_items

    root = tmp_path_factory.mktemp("agent-synth")
    make_agent_items(root, 4, seed=7)
    return root
