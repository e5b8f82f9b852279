"""Tokens prefilled per turn, and wall time, with and without KV-cache reuse across agent turns.

    python benchmarks/agent_kv_cache.py [--n 3] [--model tiny] [--device cpu]

On a few synthetic agent items (`mmreward.synth.agent`) it runs the agent loop
twice per setting: reusing the cache (only tokens after the longest unchanged
prefix are prefilled) and re-prefilling the whole context every turn. Two kinds
of rollout:
  scripted  three forced turns (select frame 9; select 17 and 25; answer), so the
            memory window really drops the first tool result's images before the
            answer turn: with p=1 the cache is cut back there and re-prefilled;
  sampled   greedy generation by the model as it is (random tiny weights: no tool
            calls, so every turn gets a reminder turn until T).
Both speak the suite's first dialect ("mmreward-v1", in which the README figures were measured): in
the published protocol a reply without a tool call ends the episode, so sampled rollouts of a
random model would stop after one turn and show nothing of the cache.
It also checks that both ways give the same tokens and log-probs (max |diff|), and times a
GRPO-style group of G rollouts per item decoded together (`rollout_batch`) vs one by one.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCRIPT = [
    'Check frame 9.\n<tool_call>{"name": "select_frames", "arguments": {"target_frames": [9]}}</tool_call>',
    'Now 17 and 25.\n<tool_call>{"name": "select_frames", "arguments": {"target_frames": [17, 25]}}</tool_call>',
    "Done.\n<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>",
]


PREFILL_SECONDS = [0.0]


def time_prefills() -> None:
    """Accumulate the wall time spent in CachedDecoder.prefill (decoding is the same either way)."""
    from mmreward.agent.kv import CachedDecoder

    original = CachedDecoder.prefill

    def timed(self, messages):
        start = time.perf_counter()
        try:
            return original(self, messages)
        finally:
            PREFILL_SECONDS[0] += time.perf_counter() - start

    CachedDecoder.prefill = timed


def run_setting(model, processor, items, root, config, scripted: bool, reuse: bool):
    from mmreward.agent.loop import rollout

    traces, start, PREFILL_SECONDS[0] = [], time.perf_counter(), 0.0
    for it in items:
        traces.append(rollout(model, processor, it["videos"], it["prompt"], config, media_root=root,
                              script=SCRIPT if scripted else None, reuse_cache=reuse))
    return traces, time.perf_counter() - start, PREFILL_SECONDS[0]


def per_turn(traces) -> list[float]:
    """Mean prefilled tokens at each turn index over the traces that reached it."""
    turns = max(len(t.prefill_tokens) for t in traces)
    return [round(sum(t.prefill_tokens[i] for t in traces if i < len(t.prefill_tokens))
                  / sum(1 for t in traces if i < len(t.prefill_tokens)), 1) for i in range(turns)]


def max_logprob_diff(a, b) -> float:
    return max((abs(x - y) for ta, tb in zip(a, b) for la, lb in zip(ta.turn_logprobs, tb.turn_logprobs)
                for x, y in zip(la, lb)), default=0.0)


def group_setting(model, processor, items, root, max_new_tokens: int, G: int = 4) -> dict:
    """rollout_batch of G greedy rollouts per item, batched vs one by one (both reuse the cache)."""
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.loop import rollout_batch

    config = AgentConfig(protocol="mmreward-v1", max_new_tokens=max_new_tokens)  # the README figures: v1
    out = {"G": G}
    tokens = {}
    for batched in (True, False):
        start = time.perf_counter()
        tokens[batched] = [[t.turn_token_ids for t in rollout_batch(model, processor, it["videos"], it["prompt"],
                                                                    config, G, root, batched=batched)]
                           for it in items]
        out["wall_s_batched" if batched else "wall_s_sequential"] = round(time.perf_counter() - start, 2)
    out["same_tokens"] = tokens[True] == tokens[False]
    return out


@dataclass
class Settings:
    n: int = field(default=3, metadata={"help": "synthetic items"})
    model: str = "tiny"
    device: str = "cpu"
    max_new_tokens: int = field(default=16, metadata={"help": "per sampled turn"})
    json: bool = field(default=False, metadata={"help": "also print the results as one JSON object"})


def main() -> int:
    from mmreward.commands.parsing import parse_script

    args = parse_script(Settings, __doc__)

    import torch

    from mmreward.agent.config import AgentConfig
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.synth.agent import make_agent_items

    torch.manual_seed(0)
    time_prefills()
    model, processor, _ = load_backbone(args.model, BackboneOptions(device=args.device, min_pixels=28 * 28,
                                                                    max_pixels=64 * 28 * 28))
    results = {}
    with tempfile.TemporaryDirectory() as root:
        items = make_agent_items(root, args.n, seed=0, traces=False)
        for p in (1, 2):
            config = AgentConfig(protocol="mmreward-v1", memory_window=p, max_new_tokens=args.max_new_tokens)
            for kind in ("scripted", "sampled"):
                run_setting(model, processor, items[:1], root, config, kind == "scripted", True)  # warm-up
                reuse, t_reuse, p_reuse = run_setting(model, processor, items, root, config, kind == "scripted", True)
                full, t_full, p_full = run_setting(model, processor, items, root, config, kind == "scripted", False)
                same = all(a.turn_token_ids == b.turn_token_ids for a, b in zip(reuse, full))
                results[f"{kind}/p={p}"] = {
                    "prefill_per_turn_reuse": per_turn(reuse), "prefill_per_turn_full": per_turn(full),
                    "prefill_total_reuse": sum(map(sum, (t.prefill_tokens for t in reuse))),
                    "prefill_total_full": sum(map(sum, (t.prefill_tokens for t in full))),
                    "wall_s_reuse": round(t_reuse, 2), "wall_s_full": round(t_full, 2),
                    "prefill_s_reuse": round(p_reuse, 3), "prefill_s_full": round(p_full, 3),
                    "same_tokens": same, "max_logprob_diff": max_logprob_diff(reuse, full),
                }
        group = group_setting(model, processor, items, root, args.max_new_tokens)
    print(f"{'setting':<14}{'prefilled per turn: reuse':<28}{'no reuse':<26}{'total':>12}{'prefill s':>14}"
          f"{'wall s':>14}  same")
    for name, r in results.items():
        total = f"{r['prefill_total_reuse']}/{r['prefill_total_full']}"
        wall = f"{r['wall_s_reuse']}/{r['wall_s_full']}"
        pre = f"{r['prefill_s_reuse']:.2f}/{r['prefill_s_full']:.2f}"
        print(f"{name:<14}{str(r['prefill_per_turn_reuse']):<28}{str(r['prefill_per_turn_full']):<26}"
              f"{total:>12}{pre:>14}{wall:>14}  {r['same_tokens']} (max |dlogp| {r['max_logprob_diff']:.1e})")
    g = results["group"] = group
    print("per turn: mean tokens prefilled; total, prefill s, wall s: with reuse / without")
    print(f"group of G={g['G']} sampled rollouts per item (GRPO): decoded together {g['wall_s_batched']} s, "
          f"one after the other {g['wall_s_sequential']} s (same tokens: {g['same_tokens']})")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
