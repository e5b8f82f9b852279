"""Rejection-sampling fine-tuning of the video agent (`mmreward train rft`).

Recipe:
  1. sample k rollouts per item with the current model (temperature > 0);
  2. keep a rollout only when it is format-valid and every dimension and the overall judgment
     match the labels (`agent.rewards.trace_correct`); report the keep rate (stdout and
     <out>/rft_keep_rate.json), write the kept traces to <out>/rft_traces.jsonl;
  3. SFT on the kept traces exactly like cold-start SFT (`sft_traces.train_on_traces`).
Under `accelerate launch` each process samples its share of the items; the SFT is the
Trainer's own distributed run. `--resume` reuses the sampled traces and resumes the SFT.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from mmreward.launch import process_state
from mmreward.train.agent_common import (add_agent_arguments, add_model_arguments, agent_config_from_args,
                                         default_media_root, load_policy, read_items)
from mmreward.train.sft_traces import TraceSFTConfig, train_on_traces

SAMPLES_NAME = "rft_traces.jsonl"
KEEP_RATE_NAME = "rft_keep_rate.json"


@torch.no_grad()
def sample_and_filter(policy, processor, items: list[dict], k: int, config, media_root=None,
                      generator: torch.Generator | None = None) -> tuple[list, dict]:
    """(kept traces, keep-rate report) for k sampled rollouts of every item."""
    from mmreward.agent.loop import rollout_batch
    from mmreward.agent.rewards import trace_correct

    policy.eval()
    kept, sampled, items_with_one, fmt = [], 0, 0, 0
    for it in items:
        group = rollout_batch(policy, processor, it["videos"], it["prompt"], config, k, media_root,
                              generator, id=it.get("id"), labels=it["labels"])
        good = [t for t in group if trace_correct(t, it["labels"])]
        kept += good
        sampled += len(group)
        fmt += sum(t.format_valid for t in group)
        items_with_one += bool(good)
    report = {"items": len(items), "k": k, "sampled": sampled, "kept": len(kept),
              "keep_rate": len(kept) / max(sampled, 1), "format_rate": fmt / max(sampled, 1),
              "items_with_a_kept_trace": items_with_one}
    return kept, report


def _merge(parts: list[dict]) -> dict:
    total = {k: sum(p[k] for p in parts) for k in ("items", "sampled", "kept", "items_with_a_kept_trace")}
    fmt = sum(p["format_rate"] * p["sampled"] for p in parts)
    return {**total, "k": parts[0]["k"], "keep_rate": total["kept"] / max(total["sampled"], 1),
            "format_rate": fmt / max(total["sampled"], 1)}


def sample_phase(args, policy, processor, items, agent_config, media_root) -> dict:
    """Every process samples items[rank::world]; rank 0 merges the kept traces and the counts."""
    from mmreward.agent.trace import read_traces, write_traces

    state = process_state()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed * 1009 + state.process_index)
    policy.to(state.device)
    kept, report = sample_and_filter(policy, processor, items[state.process_index::state.num_processes],
                                     args.k, agent_config, media_root, gen)
    write_traces(out / f"rft_part{state.process_index}.jsonl", kept)
    (out / f"rft_part{state.process_index}.json").write_text(json.dumps(report))
    state.wait_for_everyone()
    if state.is_main_process:
        parts = range(state.num_processes)
        traces = [t for r in parts for t in read_traces(out / f"rft_part{r}.jsonl")]
        report = _merge([json.loads((out / f"rft_part{r}.json").read_text()) for r in parts])
        write_traces(out / SAMPLES_NAME, traces)
        (out / KEEP_RATE_NAME).write_text(json.dumps(report, indent=2) + "\n")
        for r in parts:  # merged above; a resumed run reads the merged files
            (out / f"rft_part{r}.jsonl").unlink()
            (out / f"rft_part{r}.json").unlink()
    state.wait_for_everyone()
    policy.to("cpu")  # the Trainer places it
    return json.loads((out / KEEP_RATE_NAME).read_text())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", required=True,
                   help='JSONL of items {"id", "prompt", "videos": [a, b], "labels": {...}}')
    add_model_arguments(p)
    p.add_argument("--k", type=int, default=4, help="rollouts sampled per item")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (> 0)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--batch-size", type=int, default=4, help="turn sequences per device per step")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--warmup-ratio", type=float, default=0.05)
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--resume", action="store_true",
                   help="reuse <out>/rft_traces.jsonl and resume the SFT from its last checkpoint")
    p.add_argument("--report-to", default="none")
    add_agent_arguments(p)


def main(args: argparse.Namespace) -> int:
    from mmreward.agent.trace import read_traces

    if args.temperature <= 0:
        raise SystemExit("rft: --temperature must be > 0 (k greedy samples would be identical)")
    agent_config = agent_config_from_args(args)
    sampling = agent_config.__class__.from_dict(
        {**agent_config.to_dict(), "temperature": args.temperature, "top_p": args.top_p})
    policy, processor = load_policy(args.model, args.dtype, args.min_pixels, args.max_pixels)
    media_root = default_media_root(args.items, args.media_root)
    samples = Path(args.out) / SAMPLES_NAME
    if args.resume and samples.is_file():
        report = json.loads((Path(args.out) / KEEP_RATE_NAME).read_text())
    else:
        report = sample_phase(args, policy, processor, read_items(args.items), sampling, media_root)
    main_process = process_state().is_main_process
    if main_process:
        print(f"rft: kept {report['kept']} of {report['sampled']} rollouts "
              f"(keep rate {report['keep_rate']:.1%}, format rate {report['format_rate']:.1%})", flush=True)
    traces = read_traces(samples)
    if not traces:
        if main_process:
            print("rft: no rollout was kept; nothing to fine-tune on", flush=True)
        return 1
    cfg = TraceSFTConfig.from_args(args)
    cfg.bf16 = torch.cuda.is_available() and args.dtype in (None, "bfloat16", "bf16")
    train_on_traces(traces, policy, processor, agent_config, cfg, media_root)
    if main_process:
        (Path(args.out) / "agent_config.json").write_text(json.dumps(agent_config.to_dict(), indent=2) + "\n")
    return 0
