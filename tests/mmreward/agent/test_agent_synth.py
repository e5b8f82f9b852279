"""The synthetic agent task: evidence only in non-initial frames, labels, cold-start traces."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmreward.agent.config import AgentConfig
from mmreward.agent.frames import FrameStore
from mmreward.agent.frames import image_refs
from mmreward.agent.rewards import trace_correct
from mmreward.agent.trace import read_traces
from mmreward.synth.agent import EVIDENCE, FLASH, evidence_frames, make_agent_items


def read_items(root):
    return [json.loads(line) for line in open(root / "items.jsonl")]


def test_deterministic_by_seed(tmp_path, synth_dir):
    again = make_agent_items(tmp_path, 4, seed=7, traces=False)
    assert again == read_items(synth_dir)
    assert (tmp_path / "videos" / "00003_1.mp4").read_bytes() == (synth_dir / "videos" / "00003_1.mp4").read_bytes()
    assert make_agent_items(tmp_path / "other", 4, seed=8, traces=False) != again


def test_initial_frames_carry_no_information(synth_dir):
    config = AgentConfig()
    for item in read_items(synth_dir):
        first = config.speaks.opening("", 2, config)
        with FrameStore.for_config(item["videos"], config, synth_dir) as store:
            for f in sorted({f for _, f in image_refs(first)}):  # identical in both videos: nothing to judge by
                a, b = (np.asarray(store.image(v, f), dtype=int) for v in (0, 1))
                assert np.abs(a - b).max() <= 2
            for dim, f in EVIDENCE.items():  # the loser on each dimension flashes red at its frame
                winner = item["labels"][dim]
                red = [np.abs(np.asarray(store.image(v, f), dtype=int) - FLASH).mean() < 10 for v in (0, 1)]
                assert red == [winner == 2, winner == 1]


def test_labels_and_overall(synth_dir):
    for item in read_items(synth_dir):
        labels = item["labels"]
        assert set(labels) == {"TA", "VQ", "MQ", "OA"}
        wins = [sum(labels[d] == k for d in ("TA", "VQ", "MQ")) for k in (1, 2)]
        assert labels["OA"] == (1 if wins[0] > wins[1] else 2)


def test_cold_start_traces_are_correct(synth_dir):
    items = {it["id"]: it for it in read_items(synth_dir)}
    traces = read_traces(synth_dir / "traces.jsonl")
    assert len(traces) == len(items)
    for tr in traces:
        assert tr.format_valid and trace_correct(tr) and tr.labels == items[tr.id]["labels"]
        frames = sorted({s["frame"] for s in tr.selected_frames[0]})
        assert frames == sorted(EVIDENCE.values()) and len(tr.turns) == 2
        assert {s["video"] for s in tr.selected_frames[0]} == {0, 1} and tr.protocol == "vr-thinker"


def test_evidence_never_initial():
    with pytest.raises(ValueError, match="initial frame"):
        evidence_frames(4, AgentConfig())  # 4 frames for 48 candidates: evidence lands on shown frames
    # the centre of candidate n of 48 on a 96-frame clip: frame 2n - 1 (0-based)
    assert evidence_frames(96, AgentConfig()) == {"TA": 13, "VQ": 29, "MQ": 45}
    for protocol in ("vr-thinker", "vrthinker", "mmreward-v1"):  # no protocol's first frames hold evidence
        config = AgentConfig(protocol=protocol, candidate_frames=32)
        assert evidence_frames(32, config) == {d: n - 1 for d, n in EVIDENCE.items()}
