"""The agent recipes on the published VR-Thinker protocol (the agent's default): training sequences
follow its window (forgotten frames leave no placeholder), the loss covers only the replies, and the
format + accuracy rewards read its answers."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_fixtures import LABELS, tiny, write_clips  # noqa: E402
from mmreward.agent.config import AgentConfig  # noqa: E402
from mmreward.agent.episode import scripted_trace  # noqa: E402
from mmreward.agent.frames import FrameStore  # noqa: E402
from mmreward.train.agent.data import IGNORE, trace_examples  # noqa: E402

CONFIG = AgentConfig(initial_frames=2, candidate_frames=8, max_turns=3, max_frames_per_call=2,
                     max_new_tokens=24, frame_max_pixels=56 * 56)  # numbers 1..16 across the pair
IMAGE_PAD = 151655


def call(frames) -> str:
    return CONFIG.speaks.write_call(frames, CONFIG.dimensions, note="closer")


ANSWER = CONFIG.speaks.write_answer(LABELS, CONFIG.dimensions, note="video 2 is brighter")
TEXTS = [call([3, 11]), call([6]), ANSWER]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    videos = write_clips(folder)
    model, processor = tiny()
    trace = scripted_trace("a ball rolls", videos, TEXTS, CONFIG, labels=LABELS)
    with FrameStore.for_config(videos, CONFIG, folder) as store:
        examples = trace_examples(trace, processor, store, CONFIG.memory_window)
    return trace, processor, examples, folder, videos


def test_sequences_follow_the_published_window(setup):
    trace, processor, examples, _, _ = setup
    assert trace.protocol == "vr-thinker" and trace.format_valid and trace.judgments == LABELS
    # turn 1: the 4 initial frames; turn 2: + frames 3 and 11; turn 3: those dropped, + frame 6
    assert [len(e.image_grid_thw) for e in examples] == [4, 6, 5]
    last = processor.tokenizer.decode(examples[2].input_ids)
    assert last.count("After selecting frames: Here are the selected frames") == 2
    assert "dropped from memory" not in last and "< No Focus >" not in last  # cut, as the rollouts cut it
    assert "After selecting frames: Here are the selected frames<|im_end|>" in last  # the forgotten answer
    for ex, text in zip(examples, TEXTS):
        trained = ex.labels != IGNORE
        n = int(trained.sum())
        assert trained[-n:].all() and not trained[:-n].any() and not (ex.labels == IMAGE_PAD).any()
        assert processor.tokenizer.decode(ex.input_ids[-n:]) == text + "<|im_end|>"


def test_rewards_read_the_published_answer(setup):
    from mmreward.train.agent.rollouts import trace_reward

    trace, _, _, _, videos = setup
    assert trace_reward(trace, LABELS, alpha=0.5) == (2.0, 1.0, 1.0)
    # cut off by the turn limit: no format credit, the last inclination still scored for accuracy
    lean = {**LABELS, "TA": 1}
    capped = scripted_trace("p", videos, [call([3]), call([4]), CONFIG.speaks.write_call([5], CONFIG.dimensions,
                                                                                         inclination=lean)], CONFIG)
    assert capped.stop_reason == "max_turns" and capped.answer_source == "recommend"
    reward, fmt, acc = trace_reward(capped, LABELS, alpha=0.5)
    assert fmt == 0.0 and acc == pytest.approx(0.5 + 0.5 * 2 / 3) and reward == acc


@pytest.mark.slow
def test_grpo_rollouts_speak_the_published_protocol(setup):
    """A random policy's group: each rollout ends at its first reply (it calls no tool), scored 0;
    its sampled ids are what the training sequence trains on."""
    from mmreward.train.agent.common import StoreCache
    from mmreward.train.agent.rollouts import batch_examples, collect

    _, _, _, folder, videos = setup
    model, processor = tiny()
    cfg = AgentConfig.from_dict({**CONFIG.to_dict(), "temperature": 1.0, "max_new_tokens": 4})
    item = {"id": "i0", "prompt": "a ball rolls", "videos": videos, "labels": LABELS}
    batch = collect(model, processor, [item], 2, cfg, str(folder), 0.5, seeds=[0])
    assert [t.protocol for t in batch.traces] == ["vr-thinker"] * 2
    assert all(t.stop_reason == "no_call" and len(t.turns) == 1 for t in batch.traces)
    assert torch.equal(batch.rewards, torch.zeros(1, 2)) and batch.stats["format_rate"] == 0.0
    cache = StoreCache(cfg, str(folder))
    examples = batch_examples(batch, processor, cache, cfg.memory_window)
    cache.close()
    for ex, trace in zip(examples, batch.traces):
        assert ex.labels[ex.labels != IGNORE].tolist() == trace.turn_token_ids[0]
    assert json.loads(json.dumps(batch.traces[0].to_dict()))["protocol"] == "vr-thinker"
