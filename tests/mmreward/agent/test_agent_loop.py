"""The agent loop on the tiny model with real tensors: bounded turns, KV reuse == recomputation."""
from __future__ import annotations

import pytest
import torch

from mmreward.agent.config import AgentConfig
from mmreward.agent.context import context_for_turn
from mmreward.agent.episode import scripted_trace
from mmreward.agent.frames import FrameStore, materialize
from mmreward.agent.kv import CachedDecoder
from mmreward.agent.loop import assistant_text, rollout, rollout_batch

ANSWER = "<final answer>TA = 1, MQ = 1, VQ = 2, OA = 2</final answer>"  # the published protocol
JUDGED = {"TA": 1, "VQ": 2, "MQ": 1, "OA": 2}


def test_random_model_never_answers_and_stops_at_max_turns(tiny, clips, v1_config):
    """(The v1 dialect answers a reply without call or answer with a reminder: several turns.)"""
    model, processor = tiny
    root, videos = clips
    tr = rollout(model, processor, videos, "a ball", v1_config, media_root=root)
    assert len(tr.turns) == v1_config.max_turns and tr.stop_reason == "max_turns"
    assert tr.judgments is None and not tr.format_valid
    assert len(tr.prefill_tokens) == len(tr.turn_token_ids) == v1_config.max_turns
    assert all(1 <= len(ids) <= v1_config.max_new_tokens for ids in tr.turn_token_ids)
    # later turns prefill only what is new: far less than the first turn's full context
    assert tr.prefill_tokens[0] > 100 and all(n < tr.prefill_tokens[0] / 3 for n in tr.prefill_tokens[1:])


def test_scripted_rollout_with_tool_error(tiny, clips, small_config, call):
    model, processor = tiny
    root, videos = clips
    script = [call([2, 40]), call([4, 12]), ANSWER]
    tr = rollout(model, processor, videos, "a ball", small_config, media_root=root, script=script,
                 labels=JUDGED)
    assert tr.turns == script and tr.tool_errors == [
        "After selecting frames:\nThere are 16 frames numbered in range [1,16]. Your selection is out of range."]
    assert tr.selected_frames == [[{"video": 0, "frame": 4, "number": 4}, {"video": 1, "frame": 4, "number": 12}]]
    assert tr.judgments == JUDGED and not tr.format_valid
    assert tr.labels["OA"] == 2
    # forced tokens are the script's tokens + <|im_end|>, with finite log-probs
    im_end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert all(ids[-1] == im_end for ids in tr.turn_token_ids)
    assert all(lp <= 0 and lp > -1e4 for lps in tr.turn_logprobs for lp in lps)


@pytest.mark.slow  # three teacher-forced rollouts over the published protocol's long opening
def test_cache_reuse_matches_recomputation(tiny, clips, small_config, call):
    """Teacher-forced 3-turn rollout whose memory window drops images before turn 3:
    every token's log-prob equals the one from re-prefilling the whole context."""
    model, processor = tiny
    root, videos = clips
    script = [call([2]), call([4, 13]), ANSWER]
    reuse = rollout(model, processor, videos, "a ball", small_config, media_root=root, script=script)
    full = rollout(model, processor, videos, "a ball", small_config, media_root=root, script=script,
                   reuse_cache=False)
    for a, b in zip(reuse.turn_logprobs, full.turn_logprobs):
        assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4)
    assert reuse.prefill_tokens[0] == full.prefill_tokens[0]
    assert all(r < f for r, f in zip(reuse.prefill_tokens[1:], full.prefill_tokens[1:]))
    # with p = 2 nothing is dropped, so turn 3 prefills strictly less than with p = 1 (no cut-back)
    wide = AgentConfig(**{**small_config.to_dict(), "memory_window": 2})
    kept = rollout(model, processor, videos, "a ball", wide, media_root=root, script=script)
    assert kept.prefill_tokens[2] < reuse.prefill_tokens[2]


def test_cut_back_logits_equal_fresh_prefill(tiny, clips, small_config, call):
    """Direct check of the cut-back: prefill turn 3 on a cache that still holds the dropped
    images, and compare with a fresh decoder on the same context."""
    model, processor = tiny
    root, videos = clips
    tr = scripted_trace("a ball", videos, [call([2]), call([4, 5]), ANSWER], small_config)
    with FrameStore(videos, 8, 56 * 56, root) as store:
        warm = CachedDecoder(model, processor)
        warm.prefill(materialize(context_for_turn(tr.messages, 2, memory_window=2), store))  # images kept
        ctx = materialize(context_for_turn(tr.messages, 2, memory_window=1), store)  # tool result 1 dropped
        logits, prefilled = warm.prefill(ctx)
        fresh_logits, total = CachedDecoder(model, processor).prefill(ctx)
    assert 0 < prefilled < total
    assert torch.allclose(logits, fresh_logits, atol=1e-4)
    # and the same as a plain forward pass of the whole sequence without any cache
    batch, _ = CachedDecoder(model, processor).encode(ctx)
    with torch.no_grad():
        ref = model(**batch, use_cache=False).logits[0, -1]
    assert torch.allclose(logits, ref, atol=1e-4)


def test_greedy_tokens_identical_with_and_without_reuse(tiny, clips, v1_config):
    model, processor = tiny
    root, videos = clips
    a = rollout(model, processor, videos, "a ball", v1_config, media_root=root)
    b = rollout(model, processor, videos, "a ball", v1_config, media_root=root, reuse_cache=False)
    assert a.turn_token_ids == b.turn_token_ids and a.turns == b.turns
    assert sum(a.prefill_tokens) < sum(b.prefill_tokens)


def test_rollout_batch_sampling_is_seeded(tiny, clips, small_config):
    model, processor = tiny
    root, videos = clips
    cfg = AgentConfig(**{**small_config.to_dict(), "temperature": 1.0, "max_turns": 2})

    def group(seed):
        return rollout_batch(model, processor, videos, "a ball", cfg, n=3, media_root=root,
                             generator=torch.Generator().manual_seed(seed))

    first, again = group(0), group(0)
    assert [t.turn_token_ids for t in first] == [t.turn_token_ids for t in again]
    assert len({str(t.turn_token_ids) for t in first}) > 1  # the rollouts of a group differ
    # the shared prompt was prefilled once for the whole group
    assert first[0].prefill_tokens[0] > 100 and first[1].prefill_tokens[0] == first[2].prefill_tokens[0] == 0


@pytest.mark.slow
def test_batched_group_matches_single_rollouts(tiny, clips, small_config, call):
    """Rows of different lengths, tool errors, an early answer and a memory-window cut-back, decoded
    as one batch (a cache with holes): every log-prob equals the single-rollout one."""
    model, processor = tiny
    root, videos = clips
    scripts = [[call([2]), call([4, 13]), ANSWER], [ANSWER], [call([40]), "hmm"]]
    group = rollout_batch(model, processor, videos, "a ball", small_config, n=3, media_root=root,
                          scripts=scripts)
    for script, got in zip(scripts, group):
        ref = rollout(model, processor, videos, "a ball", small_config, media_root=root, script=script)
        assert got.turns == ref.turns and got.messages == ref.messages
        assert got.prefill_tokens[1:] == ref.prefill_tokens[1:]
        for a, b in zip(got.turn_logprobs, ref.turn_logprobs):
            assert torch.allclose(torch.tensor(a), torch.tensor(b), atol=1e-4)
    # greedy sampling: the batched group and one-at-a-time rollouts write the same tokens
    together = rollout_batch(model, processor, videos, "a ball", small_config, n=2, media_root=root)
    apart = rollout_batch(model, processor, videos, "a ball", small_config, n=2, media_root=root, batched=False)
    assert [t.turn_token_ids for t in together] == [t.turn_token_ids for t in apart]


def test_assistant_text_drops_control_tokens(tiny):
    _, processor = tiny
    tok = processor.tokenizer
    ids = tok.encode("hi <tool_call>", add_special_tokens=False) + [tok.convert_tokens_to_ids("<|image_pad|>")]
    ids += tok.encode("<|vision_start|>x", add_special_tokens=False)
    assert assistant_text(tok, ids) == "hi <tool_call>x"
