"""One GRPO batch: G rollouts per item, rule rewards, group advantages, training sequences.

Kept apart from the update so that the recipe reads as: collect -> score -> update.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mmreward.train.objectives import group_advantages


@dataclass
class RolloutBatch:
    traces: list  # items_per_step * G traces, grouped by item
    rewards: torch.Tensor  # [items, G]
    advantages: torch.Tensor  # [items, G]
    stats: dict = field(default_factory=dict)


def tool_calls(trace) -> int:
    """Turns in which the model called a tool (accepted or refused)."""
    from mmreward.agent.parse import has_tool_call

    return sum(has_tool_call(t) for t in trace.turns)


def trace_reward(trace, labels: dict, alpha: float) -> tuple[float, float, float]:
    """(reward, format, accuracy) with reward = format + accuracy (both in [0, 1])."""
    from mmreward.agent.rewards import accuracy_reward, format_reward

    fmt = format_reward(trace)
    acc = accuracy_reward(trace.judgments, labels, alpha)
    return fmt + acc, fmt, acc


def sample_groups(policy, processor, items: list[dict], group_size: int, config, media_root,
                  seeds: list[int], engine=None) -> list[list]:
    """`group_size` rollouts of every item, by the policy (HF: item after item, each group
    decoded together) or by an inference engine holding the policy's weights (every rollout of
    every item at once). `seeds[i]` seeds item i's group."""
    from mmreward.agent.loop import rollout_batch

    if engine is not None and engine.name != "hf":
        from mmreward.agent.engine_rollout import rollout_groups

        return rollout_groups(engine, processor, items, config, group_size, media_root, seeds)
    return [rollout_batch(policy, processor, it["videos"], it["prompt"], config, group_size, media_root,
                          torch.Generator().manual_seed(seed) if seed is not None else None,
                          id=it.get("id"), labels=it.get("labels"))
            for it, seed in zip(items, seeds)]


@torch.no_grad()
def collect(policy, processor, items: list[dict], group_size: int, config, media_root, alpha: float,
            seeds: list[int], reward_fn=None, engine=None) -> RolloutBatch:
    """Sample a group of `group_size` rollouts for every item and score them.

    `seeds[i]` seeds item i's group, so a rollout depends on its place in the step, not on which
    process samples it. `reward_fn(trace, item) -> float` replaces the rule reward (format +
    accuracy); format and accuracy are still logged. `engine` (vLLM, weights synced by the
    caller) samples instead of the policy.
    """
    was_training = policy.training
    policy.eval()
    traces, rows, fmts, accs = [], [], [], []
    groups = sample_groups(policy, processor, items, group_size, config, media_root, seeds, engine)
    for it, group in zip(items, groups):
        scored = [trace_reward(t, it["labels"], alpha) for t in group]
        traces += group
        rows.append([s[0] for s in scored] if reward_fn is None else [float(reward_fn(t, it)) for t in group])
        fmts += [s[1] for s in scored]
        accs += [s[2] for s in scored]
    policy.train(was_training)
    rewards = torch.tensor(rows).reshape(len(items), group_size)
    n = max(len(traces), 1)
    stats = {"reward": float(rewards.mean()) if traces else 0.0, "format_rate": sum(fmts) / n,
             "accuracy": sum(accs) / n, "tool_calls": sum(tool_calls(t) for t in traces) / n,
             "turns": sum(len(t.turns) for t in traces) / n,
             "completion_tokens": sum(len(x) for t in traces for x in t.turn_token_ids) / n}
    return RolloutBatch(traces, rewards, group_advantages(rewards), stats)


def batch_examples(batch: RolloutBatch, processor, store_cache, memory_window: int, skip_zero: bool = False):
    """Per-turn training sequences of every trace, tagged with the trace's position in the batch.

    `skip_zero`: leave out rollouts whose advantage is exactly 0 (a group that taught nothing);
    only sound when the KL term is off, since they would still carry KL gradient.
    """
    from mmreward.train.agent.data import trace_examples

    adv = batch.advantages.flatten()
    out = []
    for k, trace in enumerate(batch.traces):
        if skip_zero and adv[k] == 0:
            continue
        out += trace_examples(trace, processor, store_cache.get(trace.videos), memory_window, trace_index=k)
    return out
