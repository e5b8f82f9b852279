"""An agent episode on the vLLM engine writes the HF agent's turns (greedy, tiny-hd64): same token
ids and texts every turn, the same conversation, log-probs within 1e-3, in the published protocol
(the default: a random model's reply calls no tool, which ends the episode) and over 3 turns in the
v1 dialect (it answers such a reply with a reminder); the prefix cache serves the turns after the
first; several episodes run at once. (Tool calls, refusals and the window on the engine path:
tests/mmreward/agent/test_agent_engine_rollout.py, with fixed replies.)"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(media):
    root, _, videos = media
    return root, [videos[0]["candidates"][0]["videos"][0], videos[0]["candidates"][1]["videos"][0]]


SMALL = dict(initial_frames=2, candidate_frames=8, max_turns=3, max_frames_per_call=3, memory_window=1,
             max_new_tokens=8, frame_max_pixels=56 * 56)


@pytest.fixture(scope="module")
def config():
    from mmreward.agent.config import AgentConfig

    return AgentConfig(**SMALL)


@pytest.mark.parametrize("protocol,turns", [("vr-thinker", 1), ("mmreward-v1", 3)])
def test_episode_as_on_hf(hd64, engine, clips, protocol, turns):
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.loop import rollout

    model, processor, _ = hd64
    root, videos = clips
    config = AgentConfig(protocol=protocol, **SMALL)
    theirs = rollout(model, processor, videos, "a bar slides down", config, media_root=root)
    ours = rollout(None, processor, videos, "a bar slides down", config, media_root=root, engine=engine)
    assert len(ours.turns) == len(theirs.turns) == turns and ours.protocol == protocol
    assert ours.turns == theirs.turns and ours.turn_token_ids == theirs.turn_token_ids
    assert ours.messages == theirs.messages and ours.stop_reason == theirs.stop_reason
    for a, b in zip(ours.turn_logprobs, theirs.turn_logprobs):
        assert np.allclose(a, b, atol=1e-3)
    # later turns find the conversation so far in the prefix cache
    assert all(p < ours.prefill_tokens[0] for p in ours.prefill_tokens[1:]), ours.prefill_tokens


def test_many_episodes_at_once(hd64, engine, clips, config):
    from mmreward.agent.engine_rollout import rollout_groups
    from mmreward.agent.loop import rollout

    model, processor, _ = hd64
    root, videos = clips
    items = [{"videos": videos, "prompt": p, "id": str(i)} for i, p in enumerate(("a bar slides", "two bars"))]
    groups = rollout_groups(engine, processor, items, config, n=2, media_root=root)
    assert [len(g) for g in groups] == [2, 2]
    for item, group in zip(items, groups):
        alone = rollout(model, processor, videos, item["prompt"], config, media_root=root)
        assert all(t.turns == alone.turns and t.id == item["id"] for t in group)  # greedy: all the same


def test_vr_thinker_preset_on_the_engine_as_on_hf(hd64, engine, media):
    """The released judge's preset with engine= runs every episode of a chunk at once: the HF
    preset's outputs (texts, verdicts, traces as the model saw them), a video pair and an image pair."""
    import mmreward

    root, images, videos = media
    records = [videos[0], images[0], {"id": "bad", "prompt": "p", "candidates": [{"videos": ["none.mp4"]}] * 2}]
    small = dict(candidate_frames=8, initial_frames=2, max_new_tokens=8, frame_max_pixels=56 * 56)
    hf = mmreward.load(str(hd64[2]), preset="vr-thinker", device="cpu", dtype="float32", **small)
    on_engine = mmreward.load(str(hd64[2]), preset="vr-thinker", engine=engine, **small)
    theirs, ours = hf.score(records, media_root=root), on_engine.score(records, media_root=root)
    assert on_engine.info["engine"] == "vllm" and hf.info["engine"] == "hf"
    for a, b in zip(ours[:2], theirs[:2]):
        assert a["judge_text"] == b["judge_text"] and a["trace"] == b["trace"] and a["rewards"] == b["rewards"]
        assert a["episode"] == b["episode"] and a["episode"]["protocol"] == "vr-thinker"
    assert "none.mp4" in ours[2]["error"] and ours[2]["error"] == theirs[2]["error"]
