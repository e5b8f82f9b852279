"""GRPO: the loss against hand-computed values, group advantages, the token mask on a real
rollout, and a short run that logs, checkpoints and resumes (tiny model, real clips)."""
from __future__ import annotations

import copy
import json
import math
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mmreward.train.objectives import group_advantages, grpo_loss, k3_kl  # noqa: E402

LOGP = torch.tensor([[-1.0, -2.0, 0.0], [-0.5, -0.5, -0.5]])
OLD = torch.tensor([[-1.2, -1.5, 0.0], [-0.5, -0.9, -0.5]])
REF = torch.tensor([[-1.1, -2.0, 0.0], [-0.7, -0.4, -0.5]])
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
ADV = torch.tensor([1.0, -0.5])


def test_grpo_loss_equals_the_hand_computed_value():
    # per token, eps = 0.2: (ratio, clipped-ratio objective pg, k3 KL)
    #  row 0, A = +1:   exp(0.2) = 1.2214 -> clipped to 1.2, pg = -1.2;  kl = e^-0.1 + 0.1 - 1
    #                   exp(-0.5) = 0.6065 -> min(0.6065, 0.8) = 0.6065, pg = -0.6065;  kl = 0
    #                   (third token masked out)
    #  row 1, A = -0.5: ratio 1, pg = 0.5;  kl = e^-0.2 + 0.2 - 1
    #                   exp(0.4) = 1.4918 -> min(-0.7459, -0.6) = -0.7459, pg = 0.7459;  kl = e^0.1 - 0.1 - 1
    #                   ratio 1, pg = 0.5;  kl = 0
    pg = -1.2 - math.exp(-0.5) + 0.5 + 0.5 * math.exp(0.4) + 0.5
    kl = (math.exp(-0.1) + 0.1 - 1) + (math.exp(-0.2) + 0.2 - 1) + (math.exp(0.1) - 0.1 - 1)
    expected = (pg + 0.1 * kl) / 5
    parts = grpo_loss(LOGP, OLD, REF, ADV, MASK, clip_eps=0.2, beta=0.1)
    assert parts.loss.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(-0.0115489, abs=1e-6)
    assert parts.kl.item() == pytest.approx(kl / 5, abs=1e-6)
    # clipped: (0,0) ratio 1.22 > 1.2, (0,1) ratio 0.61 < 0.8, (1,1) ratio 1.49 > 1.2
    assert parts.clip_fraction.item() == pytest.approx(3 / 5)
    # a global normaliser (the whole step's token count) just rescales
    assert grpo_loss(LOGP, OLD, REF, ADV, MASK, 0.2, 0.1, num_tokens=10).loss.item() == pytest.approx(
        expected / 2, abs=1e-6)


def test_on_policy_gradient_is_minus_advantage_per_token():
    """One pass (old = current): ratio 1, and d loss / d logp = -A / tokens on every kept token."""
    logp = LOGP.clone().requires_grad_(True)
    grpo_loss(logp, logp.detach(), None, ADV, MASK, beta=0.0).loss.backward()
    expected = torch.tensor([[-1.0, -1.0, 0.0], [0.5, 0.5, 0.5]]) / 5
    assert torch.allclose(logp.grad, expected)


def test_k3_is_zero_at_the_reference_and_positive_elsewhere():
    assert torch.equal(k3_kl(LOGP, LOGP), torch.zeros_like(LOGP))
    assert (k3_kl(LOGP, REF)[LOGP != REF] > 0).all()


def test_advantages_are_zero_when_all_rewards_are_equal():
    adv = group_advantages(torch.tensor([[1.5, 1.5, 1.5, 1.5], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 2.0]]))
    assert torch.equal(adv[:2], torch.zeros(2, 4))
    std = math.sqrt(0.5)  # population std of [0, 1, 1, 2]
    assert torch.allclose(adv[2], torch.tensor([-1.0, 0.0, 0.0, 1.0]) / (std + 1e-4))
    assert torch.equal(group_advantages(torch.tensor([2.0])), torch.zeros(1))  # G = 1


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from agent_fixtures import write_clips

    folder = tmp_path_factory.mktemp("grpo_clips")
    return folder, write_clips(folder)


@pytest.mark.slow
def test_mask_covers_exactly_the_sampled_tokens_of_a_real_rollout(clips):
    """Every token the policy sampled, in every turn, is trained on; nothing else is."""
    from agent_fixtures import CONFIG, tiny
    from mmreward.agent.frames import FrameStore
    from mmreward.agent.loop import rollout
    from mmreward.train.agent.data import IGNORE, collate_turns, trace_examples
    from mmreward.train.agent.logprobs import TokenLogprobs

    folder, videos = clips
    model, processor = tiny()
    cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 5, "max_turns": 2,
                                      "temperature": 1.0})
    trace = rollout(model, processor, videos, "a ball rolls", cfg, folder, torch.Generator().manual_seed(0))
    assert len(trace.turns) == cfg.max_turns  # random weights never answer: the rollout ends at T
    with FrameStore(videos, cfg.candidate_frames, cfg.frame_max_pixels, folder) as store:
        examples = trace_examples(trace, processor, store, cfg.memory_window)
    for ex, ids in zip(examples, trace.turn_token_ids):
        trained = ex.labels != IGNORE
        assert ex.labels[trained].tolist() == ids
        assert trained[-len(ids):].all() and int(trained.sum()) == len(ids)
    # the training forward (padded batch, M-RoPE positions from mm_token_type_ids) gives the
    # log-probs the rollout sampled with: GRPO's ratio starts at exactly 1
    batch = collate_turns(examples, processor.tokenizer.pad_token_id)
    with torch.no_grad():
        out = TokenLogprobs(model)(**batch)
    ours = out["logp"][out["mask"]]
    sampled = torch.tensor([lp for turn in trace.turn_logprobs for lp in turn])
    assert torch.allclose(ours, sampled, atol=1e-4), (ours - sampled).abs().max()


@pytest.mark.slow
def test_grpo_runs_logs_checkpoints_and_resumes(clips, tmp_path):
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    folder, videos = clips
    items = [{"id": "i0", "prompt": "a ball rolls", "videos": videos, "labels": LABELS}]
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 2})
    policy, processor = tiny()
    ref, fresh = copy.deepcopy(policy), copy.deepcopy(policy)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=2, items_per_step=1, group_size=2, lr=1e-3,
                     beta=0.04, save_steps=1)
    seen = []

    def on_step(step, model):  # e.g. a held-out evaluation, which switches to eval mode
        seen.append((step, model is policy, model.training))
        model.eval()

    policy.train()
    train_grpo(policy, processor, ref, items, agent_cfg, cfg, media_root=folder, on_step=on_step)
    assert seen == [(1, True, True), (2, True, True)] and policy.training  # mode restored
    log = [json.loads(line) for line in open(tmp_path / "grpo" / "grpo_log.jsonl")]
    assert [r["step"] for r in log] == [1, 2]
    for key in ("reward", "kl", "format_rate", "tool_calls", "loss"):
        assert key in log[0]
    assert sorted(p.name for p in (tmp_path / "grpo").glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert (tmp_path / "grpo" / "model.safetensors").is_file()
    # random weights never answer: every reward is 0, every advantage 0; only the KL term can move the
    # weights, and at step 1 the policy is the reference (KL gradient 0): nothing may change
    assert all(r["reward"] == 0 for r in log)
    first = json.loads(open(tmp_path / "grpo" / "grpo_log.jsonl").readline())
    assert first["kl"] == pytest.approx(0.0, abs=1e-6)
    after = policy.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # resume: picks up after checkpoint-1 and redoes step 2 only, which replaces its log line
    import shutil

    shutil.rmtree(tmp_path / "grpo" / "checkpoint-2")
    cfg.resume = True
    train_grpo(fresh, processor, ref, items, agent_cfg, cfg, media_root=folder)
    resumed = [json.loads(line) for line in open(tmp_path / "grpo" / "grpo_log.jsonl")]
    assert [r["step"] for r in resumed] == [1, 2]
    assert resumed[0] == log[0]
    timing = ("rollout_s", "update_s")
    assert {k: v for k, v in resumed[1].items() if k not in timing} == \
        {k: v for k, v in log[1].items() if k not in timing}  # same RNG state: the same step


def trace_logprob(policy, processor, trace, folder) -> float:
    """log p(the trace's sampled tokens) under `policy`, every turn in its own context."""
    from agent_fixtures import CONFIG
    from mmreward.agent.frames import FrameStore
    from mmreward.train.agent.data import collate_turns, trace_examples
    from mmreward.train.agent.logprobs import TokenLogprobs

    with FrameStore(trace.videos, CONFIG.candidate_frames, CONFIG.frame_max_pixels, folder) as store:
        batch = collate_turns(trace_examples(trace, processor, store, CONFIG.memory_window),
                              processor.tokenizer.pad_token_id)
    with torch.no_grad():
        out = TokenLogprobs(policy)(**batch)
    return float(out["logp"][out["mask"]].sum())


@pytest.mark.slow
def test_a_planted_reward_raises_the_rewarded_rollouts_log_probability(clips, tmp_path):
    """One GRPO step where the first rollout of the group earns 1 and the second 0: the update must
    make the rewarded rollout more likely and the other less (nothing moves without the step)."""
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    folder, videos = clips
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 6, "max_turns": 1})
    policy, processor = tiny()
    initial = copy.deepcopy(policy)
    rollouts = []

    def planted(trace, item):
        rollouts.append(trace)
        return 1.0 if len(rollouts) == 1 else 0.0

    policy.train()
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=1, items_per_step=1, group_size=2, lr=1e-3, beta=0.0,
                     save_steps=0)
    train_grpo(policy, processor, None, [{"id": "i0", "prompt": "a ball rolls", "videos": videos,
                                          "labels": LABELS}], agent_cfg, cfg, media_root=folder, reward_fn=planted)
    rewarded, other = rollouts
    assert rewarded.turn_token_ids != other.turn_token_ids  # two different samples, opposite advantages
    rise = trace_logprob(policy, processor, rewarded, folder) - trace_logprob(initial, processor, rewarded, folder)
    fall = trace_logprob(policy, processor, other, folder) - trace_logprob(initial, processor, other, folder)
    assert rise > 0.1, f"the rewarded rollout's log-probability changed by {rise:+.4f}"
    assert fall < -0.1, f"the unrewarded rollout's log-probability changed by {fall:+.4f}"
