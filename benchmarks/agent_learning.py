"""Does the video-agent training stack learn? Cold-start SFT, no-tool baseline, GRPO, RFT on CPU.

On the tiny model (random init) and the synthetic agent task (`mmreward.synth.agent`: the evidence
for each dimension is a red flash in one frame that is never among the initial frames), speaking the
published VR-Thinker protocol (the agent's default: the authors' tool system prompt, the card's
prompt, frames numbered 1..64 across the pair, tool answers as user turns, a <final answer>):

  1. format-valid rate of the untrained model (expected ~0%);
  2. cold-start SFT on traces that select the evidence frames and answer -> format rate, accuracy;
     kept short (2.75 epochs): enough for the format and the tool call and for reading some of the
     flashes, so what GRPO adds is measurable (3 epochs of SFT alone reach ~0.90 on this task);
  3. no-tool baseline: the same model, same items, same SFT budget, on traces that answer right
     away from the initial frames (which are identical for both clips) -> accuracy;
  4. GRPO from the SFT checkpoint -> held-out accuracy every --eval-every steps and at the end;
  5. RFT from the SFT checkpoint: keep rate of k sampled traces per item.
Held-out accuracy = mean over held-out items of the GRPO accuracy reward
(0.5 * [overall right] + 0.5 * mean over TA/VQ/MQ of [right]), greedy decoding; we also print the
share of items with every judgment right.

    python benchmarks/agent_learning.py --work /tmp/agent_learning
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mmreward.agent.config import AgentConfig  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402


def agent_config(**kw) -> AgentConfig:
    """The published VR-Thinker protocol (the agent's default) at the task's small sizes: 56x56 clips
    (4 visual tokens a frame), 32 candidates a video (numbers 1..64), replies within 80 new tokens
    (the tool-calling reply is 68 tokens)."""
    base = dict(initial_frames=4, candidate_frames=32, max_turns=3, max_frames_per_call=8,
                memory_window=1, max_new_tokens=80, frame_max_pixels=56 * 56)
    base.update(kw)
    return AgentConfig(**base)


def short_texts(labels: dict, config: AgentConfig, tool: bool = True) -> list[str]:
    """Cold-start turns for the benchmark, in the config's protocol: the inclination and the
    evidence frames of both videos in one call, then a terse final answer."""
    from mmreward.synth.agent import evidence_numbers

    answer = config.speaks.write_answer(labels, config.dimensions)
    if not tool:
        return [answer]
    return [config.speaks.write_call(evidence_numbers(config, config.dimensions), config.dimensions), answer]


def make_traces(items, config, tool: bool):
    from mmreward.agent.episode import scripted_trace

    return [scripted_trace(it["prompt"], it["videos"], short_texts(it["labels"], config, tool), config,
                           id=it["id"], labels=it["labels"]) for it in items]


def evaluate(model, processor, items, config, media_root) -> dict:
    """Greedy rollouts: format rate, accuracy reward, all-right rate, tool calls per rollout."""
    from mmreward.agent.loop import rollout
    from mmreward.agent.rewards import accuracy_reward, trace_correct

    model.eval()
    fmt = acc = right = calls = 0.0
    per_dim: dict[str, float] = {}
    for it in items:
        tr = rollout(model, processor, it["videos"], it["prompt"], config, media_root, labels=it["labels"])
        fmt += tr.format_valid
        acc += accuracy_reward(tr.judgments, it["labels"])
        right += trace_correct(tr, it["labels"])
        calls += len(tr.selected_frames)
        for d, label in it["labels"].items():
            per_dim[d] = per_dim.get(d, 0.0) + ((tr.judgments or {}).get(d) == label)
    n = len(items)
    return {"format_rate": fmt / n, "accuracy": acc / n, "all_right": right / n, "tool_calls": calls / n,
            "per_dimension": {d: round(v / n, 4) for d, v in per_dim.items()}, "n": n}


def load_policy(name):
    """(policy, processor) as the recipes load them, with the benchmark's small image bounds."""
    from mmreward.models.options import TrainModelOptions
    from mmreward.train.agent.common import load_policy as load

    return load(TrainModelOptions(model=str(name), min_pixels=28 * 28, max_pixels=64 * 28 * 28))


def sft(model_name, traces, config, media_root, out, args, epochs: float):
    """Cold-start SFT through the recipe (`sft_traces.train_on_traces`); returns the policy."""
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces

    if args.reuse and (Path(out) / "model.safetensors").is_file():  # a finished run of this stage
        return load_policy(out)
    policy, processor = load_policy(model_name)
    cfg = TraceSFTConfig(output_dir=str(out), num_train_epochs=epochs, per_device_train_batch_size=args.sft_batch,
                         learning_rate=args.sft_lr, save_steps=100_000, logging_steps=10, warmup_steps=0.05,
                         seed=args.seed)
    train_on_traces(traces, policy, processor, config, cfg, media_root)
    return policy, processor


def grpo(sft_dir, items, config, media_root, out, args, on_step=None):
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    policy, processor = load_policy(sft_dir)
    ref = load_policy(sft_dir)[0] if args.beta else None
    import shutil

    shutil.rmtree(out, ignore_errors=True)  # a fresh run: its log is appended to
    cfg = GRPOConfig(out=str(out), steps=args.grpo_steps, items_per_step=args.grpo_items, group_size=args.group,
                     lr=args.grpo_lr, beta=args.beta, temperature=args.temperature, top_p=args.top_p, micro_batch=8,
                     save_steps=0, seed=args.seed)
    return train_grpo(policy, processor, ref, items, config, cfg, media_root, on_step), processor


def rft_keep_rate(sft_dir, items, config, media_root, args) -> dict:
    from mmreward.train.agent.rft import sample_and_filter

    policy, processor = load_policy(sft_dir)
    sampling = AgentConfig.from_dict({**config.to_dict(), "temperature": args.temperature, "top_p": args.top_p})
    _, report = sample_and_filter(policy, processor, items, args.rft_k, sampling, media_root,
                                  torch.Generator().manual_seed(args.seed))
    return report


def timed_train(models: dict, name: str, fn) -> dict:
    models[name] = fn()
    return {"out": name}


def stage(results: dict, name: str, fn):
    t = time.time()
    value = fn()
    results[name] = value
    results.setdefault("seconds", {})[name] = round(time.time() - t, 1)
    print(f"[{name}] {json.dumps(value)}  ({time.time() - t:.0f} s)", flush=True)
    return value


@dataclass
class Settings:
    work: str = field(default="/tmp/mmreward_agent_learning", metadata={"help": "scratch directory"})
    n_train: int = 160
    n_test: int = 80
    n_format: int = field(default=10, metadata={"help": "held-out items for the untrained format rate"})
    sft_epochs: float = field(default=2.75, metadata={
        "help": "cold-start length: 2.5 learns the format and the tool call but reads no evidence, "
                "2.75 reads some of it, 3 most of it"})
    sft_batch: int = 8
    sft_lr: float = 1e-2
    grpo_steps: int = 20
    grpo_items: int = 4
    eval_every: int = field(default=10, metadata={"help": "held-out accuracy every this many GRPO steps"})
    group: int = 8
    grpo_lr: float = 5e-4
    beta: float = field(default=0.04, metadata={"help": "KL to the SFT checkpoint; keeps later steps from drifting"})
    temperature: float = field(default=0.7, metadata={"help": "GRPO and RFT sampling temperature"})
    top_p: float = field(default=0.95, metadata={
        "help": "GRPO and RFT nucleus; cuts the 152k-token tail that breaks the format at T >= 0.7"})
    protocol: str = field(default="vr-thinker", metadata={
        "help": "the agent's protocol: vr-thinker (the published one), or mmreward-v1 (the suite's first "
                "dialect, for the figures from before it)"})
    rft_items: int = 10
    rft_k: int = 4
    seed: int = 0
    threads: int = 2
    reuse: bool = field(default=False, metadata={"help": "reuse finished SFT checkpoints in --work"})


def main() -> int:
    args = parse_script(Settings, __doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from mmreward.synth.agent import make_agent_items

    work = Path(args.work)
    config = agent_config(protocol=args.protocol)
    results: dict = {"args": vars(args)}
    t0 = time.time()
    train = make_agent_items(work / "train", args.n_train, seed=args.seed, config=config, traces=False)
    test = make_agent_items(work / "test", args.n_test, seed=args.seed + 1, config=config, traces=False)
    tr_root, te_root = str(work / "train"), str(work / "test")
    untrained, processor = load_policy("tiny")
    stage(results, "untrained", lambda: evaluate(untrained, processor, test[:args.n_format], config, te_root))
    sft_dir, notool_dir = work / "sft", work / "sft_notool"
    models = {}
    stage(results, "sft_train", lambda: timed_train(models, "sft", lambda: sft(
        "tiny", make_traces(train, config, tool=True), config, tr_root, sft_dir, args, args.sft_epochs)[0]))
    stage(results, "sft", lambda: evaluate(models["sft"], processor, test, config, te_root))
    # the same optimiser steps as the tool SFT: its traces have one turn where the tool traces have two
    stage(results, "no_tool_train", lambda: timed_train(models, "no_tool", lambda: sft(
        "tiny", make_traces(train, config, tool=False), config, tr_root, notool_dir, args,
        2 * args.sft_epochs)[0]))
    stage(results, "no_tool", lambda: evaluate(models["no_tool"], processor, test, config, te_root))
    stage(results, "rft_sampling", lambda: rft_keep_rate(sft_dir, train[:args.rft_items], config, tr_root, args))
    curve = results.setdefault("grpo_curve", {})

    def held_out(step, policy):
        if step % args.eval_every == 0 and step < args.grpo_steps:
            curve[step] = evaluate(policy, processor, test, config, te_root)["accuracy"]
            print(f"[grpo step {step}] held-out accuracy {curve[step]:.3f}", flush=True)

    stage(results, "grpo_train", lambda: timed_train(models, "grpo", lambda: grpo(
        sft_dir, train, config, tr_root, work / "grpo", args, held_out)[0]))
    stage(results, "grpo", lambda: evaluate(models["grpo"], processor, test, config, te_root))
    results["total_seconds"] = round(time.time() - t0, 1)
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    r = results
    print("\n== agent learning (tiny model, synthetic agent task, held-out n=%d) ==" % args.n_test)
    print(f"format-valid rate   untrained {r['untrained']['format_rate']:.0%} -> cold-start SFT "
          f"{r['sft']['format_rate']:.0%}")
    for name in ("no_tool", "sft", "grpo"):
        dims = " ".join(f"{d} {v:.3f}" for d, v in r[name]["per_dimension"].items())
        print(f"{name:8s} accuracy {r[name]['accuracy']:.3f}  all-right {r[name]['all_right']:.3f}  "
              f"format {r[name]['format_rate']:.0%}  tool calls/rollout {r[name]['tool_calls']:.2f}  ({dims})")
    if r["grpo_curve"]:
        steps = " ".join(f"{k}:{v:.3f}" for k, v in r["grpo_curve"].items())
        print(f"GRPO held-out accuracy by step  0:{r['sft']['accuracy']:.3f} {steps} "
              f"{args.grpo_steps}:{r['grpo']['accuracy']:.3f}")
    print(f"RFT keep rate (k={args.rft_k}, {args.rft_items} items): {r['rft_sampling']['keep_rate']:.1%}")
    print(f"wall time {r['total_seconds']:.0f} s; per stage {json.dumps(r['seconds'])}")
    ok = r["grpo"]["accuracy"] > max(r["sft"]["accuracy"], r["no_tool"]["accuracy"])
    print("GRPO above SFT and no-tool:", "yes" if ok else "NO")
    return 0


if __name__ == "__main__":
    sys.exit(main())
