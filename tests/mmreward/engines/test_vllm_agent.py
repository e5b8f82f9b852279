"""A 3-turn agent episode on the vLLM engine writes the HF agent's turns (greedy, tiny-hd64):
same token ids and texts every turn, the same tool results, log-probs within 1e-3; the prefix
cache serves the turns after the first; several episodes run at once."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(media):
    root, _, videos = media
    return root, [videos[0]["candidates"][0]["videos"][0], videos[0]["candidates"][1]["videos"][0]]


@pytest.fixture(scope="module")
def config():
    from mmreward.agent.config import AgentConfig

    return AgentConfig(initial_frames=2, candidate_frames=8, max_turns=3, max_frames_per_call=3,
                       memory_window=1, max_new_tokens=8, frame_max_pixels=56 * 56)


def test_three_turn_episode_as_on_hf(hd64, engine, clips, config):
    from mmreward.agent.loop import rollout

    model, processor, _ = hd64
    root, videos = clips
    theirs = rollout(model, processor, videos, "a bar slides down", config, media_root=root)
    ours = rollout(None, processor, videos, "a bar slides down", config, media_root=root, engine=engine)
    assert len(ours.turns) == len(theirs.turns) == 3
    assert ours.turns == theirs.turns and ours.turn_token_ids == theirs.turn_token_ids
    assert ours.messages == theirs.messages and ours.stop_reason == theirs.stop_reason
    for a, b in zip(ours.turn_logprobs, theirs.turn_logprobs):
        assert np.allclose(a, b, atol=1e-3)
    # turns 2 and 3 find the conversation so far in the prefix cache
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
