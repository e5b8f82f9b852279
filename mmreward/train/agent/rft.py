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

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from mmreward.engines import check_engine
from mmreward.errors import ConfigError
from mmreward.launch import process_state
from mmreward.train.agent.common import default_media_root, load_policy, read_items
from mmreward.train.common import TrainArguments, add_to_summary, stage_default
from mmreward.train.lora import NO_LORA
from mmreward.train.agent.sft_traces import train_on_traces

SAMPLES_NAME = "rft_traces.jsonl"
KEEP_RATE_NAME = "rft_keep_rate.json"


@dataclass(kw_only=True)
class RFTConfig(TrainArguments):
    """Sampling, then the SFT on the kept traces (the Trainer options)."""

    stage = "rft"

    k: int = field(default=4, metadata={"help": "rollouts sampled per item"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (> 0)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    engine: Literal["hf", "vllm"] = field(default="hf", metadata={
        "help": "what samples: hf (the model, transformers) or vllm (a vLLM engine on the checkpoint, every "
                "rollout at once; extra mmreward[vllm])"})
    per_device_train_batch_size: int = stage_default(TrainArguments, "per_device_train_batch_size", 4)
    num_train_epochs: float = stage_default(TrainArguments, "num_train_epochs", 2.0)
    learning_rate: float = stage_default(TrainArguments, "learning_rate", 1e-5)
    save_steps: float = stage_default(TrainArguments, "save_steps", 200)
    resume: bool = field(default=False, metadata={
        "help": "reuse <out>/rft_traces.jsonl and resume the SFT from its newest complete checkpoint"})

    def __post_init__(self):
        if self.temperature <= 0:
            raise ConfigError("rft: --temperature must be > 0 (k greedy samples would be identical)")
        if self.k < 1:
            raise ConfigError(f"rft: --k must be at least 1, got {self.k}")
        check_engine(self.engine)
        super().__post_init__()


@torch.no_grad()
def sample_and_filter(policy, processor, items: list[dict], k: int, config, media_root=None,
                      generator: torch.Generator | None = None, engine=None, seed: int = 0) -> tuple[list, dict]:
    """(kept traces, keep-rate report) for k sampled rollouts of every item (`engine`: vLLM
    samples them all at once, item i's group seeded by `seed` + i)."""
    from mmreward.agent.loop import rollout_batch
    from mmreward.agent.rewards import trace_correct

    policy.eval()
    kept, sampled, items_with_one, fmt = [], 0, 0, 0
    if engine is not None:
        from mmreward.agent.engine_rollout import rollout_groups

        groups = rollout_groups(engine, processor, items, config, k, media_root, [seed + i for i in range(len(items))])
    else:
        groups = (rollout_batch(policy, processor, it["videos"], it["prompt"], config, k, media_root, generator,
                                id=it.get("id"), labels=it["labels"]) for it in items)
    for it, group in zip(items, groups):
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


def sample_phase(cfg: RFTConfig, policy, processor, items, agent_config, media_root, model_path: str = "tiny") -> dict:
    """Every process samples items[rank::world]; rank 0 merges the kept traces and the counts."""
    from mmreward.agent.trace import read_traces, write_traces

    state = process_state()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(cfg.seed * 1009 + state.process_index)
    policy.to(state.device)
    engine = None
    if cfg.engine != "hf":
        from mmreward.train.agent.grpo import rollout_engine

        engine = rollout_engine(cfg.engine, policy, processor, model_path, gpu_memory_utilization=0.9)
        policy.to("cpu")  # the engine has the weights; the GPU is the engine's until the SFT
    try:
        kept, report = sample_and_filter(policy, processor, items[state.process_index::state.num_processes],
                                         cfg.k, agent_config, media_root, gen, engine,
                                         seed=cfg.seed * 1009 + state.process_index)
    finally:
        if engine is not None:
            engine.close()
    write_traces(out / f"rft_part{state.process_index}.jsonl", kept)
    (out / f"rft_part{state.process_index}.json").write_text(json.dumps(report))
    state.wait_for_everyone()
    if state.is_main_process:
        parts = range(state.num_processes)
        traces = [t for r in parts for t in read_traces(out / f"rft_part{r}.jsonl")]
        report = _merge([json.loads((out / f"rft_part{r}.json").read_text()) for r in parts])
        # the keep rate first, the traces last and whole: their presence is what --resume reuses
        (out / KEEP_RATE_NAME).write_text(json.dumps(report, indent=2) + "\n")
        write_traces(out / f"{SAMPLES_NAME}.tmp", traces)
        os.replace(out / f"{SAMPLES_NAME}.tmp", out / SAMPLES_NAME)
        for r in parts:  # merged above; a resumed run reads the merged files
            (out / f"rft_part{r}.jsonl").unlink()
            (out / f"rft_part{r}.json").unlink()
    state.wait_for_everyone()
    policy.to("cpu")  # the Trainer places it
    return json.loads((out / KEEP_RATE_NAME).read_text())


def main(model, data, agent, cfg: RFTConfig, lora=NO_LORA) -> int:
    """`model`: TrainModelOptions, `data`: ItemsData, `agent`: AgentOptions, `lora`: LoraOptions."""
    from mmreward.agent.trace import read_traces

    agent_config = agent.to_config()
    sampling = agent.to_config(temperature=cfg.temperature, top_p=cfg.top_p)
    items = read_items(data.items)
    policy, processor = load_policy(model)
    media_root = default_media_root(data.items, data.media_root)
    samples = Path(cfg.output_dir) / SAMPLES_NAME
    if cfg.resume and samples.is_file():
        report = json.loads((Path(cfg.output_dir) / KEEP_RATE_NAME).read_text())
    else:
        report = sample_phase(cfg, policy, processor, items, sampling, media_root, model.model)
    main_process = process_state().is_main_process
    if main_process:
        print(f"rft: kept {report['kept']} of {report['sampled']} rollouts "
              f"(keep rate {report['keep_rate']:.1%}, format rate {report['format_rate']:.1%})", flush=True)
    traces = read_traces(samples)
    if not traces:
        if main_process:
            print("rft: no rollout was kept; nothing to fine-tune on", flush=True)
        return 1
    train_on_traces(traces, policy, processor, agent_config, cfg, media_root, lora)
    if main_process:
        add_to_summary(cfg.output_dir, sampling=report)
        (Path(cfg.output_dir) / "agent_config.json").write_text(json.dumps(agent_config.to_dict(), indent=2) + "\n")
    return 0
