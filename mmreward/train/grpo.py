"""GRPO for the video agent on multi-turn rollouts (`mmreward train grpo`).

Recipe, one optimiser step at a time:
  1. collect: G rollouts per item with the current policy (`agent.loop.rollout_batch`, sampling);
  2. score: reward = format + accuracy (alpha * overall + (1 - alpha) * mean over dimensions),
     advantages normalised within each group (`grpo_loss.group_advantages`);
  3. sequences: every assistant turn of every rollout, in the context it was written in
     (memory window as at inference), loss only on the model's own tokens (`agent_data`);
  4. old log-probs (policy before the update) and reference log-probs (frozen model), no grad;
  5. update: --ppo-epochs passes of the clipped-ratio loss + beta * k3 KL (`grpo_loss.grpo_loss`).
Accelerate places and distributes the model (each process rolls out its own items; DDP averages
the gradients); every --save-steps a checkpoint (model, optimizer, RNG, step) is written and
--resume continues from the last one. Logs go to stdout and <out>/grpo_log.jsonl.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mmreward.launch import cpu_only
from mmreward.train.agent_common import (StoreCache, add_agent_arguments, add_model_arguments,
                                         agent_config_from_args, default_media_root, load_policy, read_items)
from mmreward.train.agent_data import collate_turns
from mmreward.train.agent_logprobs import TokenLogprobs
from mmreward.train.grpo_loss import grpo_loss
from mmreward.train.grpo_rollouts import batch_examples, collect

STATE_NAME = "grpo_state.json"


@dataclass
class GRPOConfig:
    out: str
    steps: int = 100  # optimiser steps (each on a fresh batch of rollouts)
    items_per_step: int = 4  # items per process per step
    group_size: int = 8  # G rollouts per item
    ppo_epochs: int = 1  # passes over one batch of rollouts (1: ratio is 1, clipping idle)
    micro_batch: int = 8  # turn sequences per forward/backward
    lr: float = 1e-5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    clip_eps: float = 0.2
    beta: float = 0.04  # KL coefficient; 0 turns the reference model off
    alpha: float = 0.5  # accuracy = alpha * overall + (1 - alpha) * dimensions
    temperature: float = 1.0
    top_p: float = 1.0
    save_steps: int = 50
    seed: int = 0
    resume: bool = False

    def __post_init__(self):
        if self.temperature <= 0:
            raise ValueError("GRPO samples: temperature must be > 0 (a greedy group has no spread)")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: advantages are relative to the group")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "GRPOConfig":
        return cls(**{k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__})


def step_items(items: list[dict], cfg: GRPOConfig, step: int, rank: int, world: int) -> list[dict]:
    """This process's items for `step`: a function of (seed, step) alone, so resuming redraws the same."""
    rng = np.random.default_rng([cfg.seed, step])
    need = cfg.items_per_step * world
    order = rng.permutation(len(items))
    picks = np.resize(order, need)  # wraps around when the set is smaller than a step
    return [items[i] for i in picks[rank * cfg.items_per_step:(rank + 1) * cfg.items_per_step]]


@torch.no_grad()
def frozen_logprobs(module, batches: list[dict]) -> list[torch.Tensor]:
    return [module(**b)["logp"].detach() for b in batches]


def update(accelerator, model, optimizer, batches, old, ref, advantages, cfg: GRPOConfig) -> dict:
    """--ppo-epochs optimiser steps over the micro-batches of one rollout batch.

    Processes may hold different numbers of micro-batches (rollouts differ in length, and groups
    with equal rewards are skipped), so gradients are accumulated without DDP's per-backward
    all-reduce and averaged over processes once per step (`sync_gradients`).
    """
    num_tokens = sum(int(b["labels"][:, 1:].ne(-100).sum()) for b in batches)
    totals = {"loss": 0.0, "policy_loss": 0.0, "kl": 0.0, "clip_fraction": 0.0}
    for _ in range(cfg.ppo_epochs):
        optimizer.zero_grad()
        with accelerator.no_sync(model):
            for b, o, r in zip(batches, old, ref):
                out = model(**b)
                o = out["logp"].detach() if o is None else o  # one pass: the rollout policy is this one
                share = float(out["mask"].sum()) / max(num_tokens, 1)
                parts = grpo_loss(out["logp"], o, r, advantages[b["trace_index"]], out["mask"],
                                  cfg.clip_eps, cfg.beta, num_tokens=num_tokens)
                accelerator.backward(parts.loss)
                totals["loss"] += float(parts.loss.detach()) / cfg.ppo_epochs
                for k in ("policy_loss", "kl", "clip_fraction"):  # token-weighted means over the step
                    totals[k] += float(getattr(parts, k)) * share / cfg.ppo_epochs
        if not sync_gradients(accelerator, model, has_tokens=num_tokens > 0):
            break  # no process had a token to learn from: leave the weights (and Adam's moments) alone
        if cfg.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
    totals["tokens"] = num_tokens
    return totals


def sync_gradients(accelerator, model, has_tokens: bool) -> bool:
    """Average gradients over processes; False when no process had any token this step."""
    if accelerator.num_processes == 1:
        return has_tokens
    import torch.distributed as dist

    flag = torch.tensor([float(has_tokens)], device=accelerator.device)
    dist.all_reduce(flag)
    for p in model.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
            p.grad /= accelerator.num_processes
    return bool(flag.item() > 0)


def micro_batches(examples, pad_id: int, size: int, device) -> list[dict]:
    out = []
    for i in range(0, len(examples), size):
        b = collate_turns(examples[i:i + size], pad_id)
        out.append({k: v.to(device) for k, v in b.items()})
    return out


def last_checkpoint(out: str) -> Path | None:
    found = [p for p in Path(out).glob("checkpoint-*") if (p / STATE_NAME).is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[1]), default=None)


def save_checkpoint(accelerator, out: str, step: int) -> None:
    path = Path(out) / f"checkpoint-{step}"
    accelerator.save_state(str(path))  # model, optimizer, RNG states of every process
    if accelerator.is_main_process:
        (path / STATE_NAME).write_text(json.dumps({"step": step}) + "\n")


def log_line(out: str, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with open(Path(out) / "grpo_log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def trim_log(out: str, last_step: int) -> None:
    """Drop the log lines of steps after `last_step`: a resumed run redoes them."""
    path = Path(out) / "grpo_log.jsonl"
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(x for x in lines if json.loads(x)["step"] <= last_step), encoding="utf-8")


def train_grpo(policy, processor, ref_policy, items, agent_config, cfg: GRPOConfig, media_root=None,
               on_step=None):
    """The GRPO loop; returns the trained policy (unwrapped). Writes checkpoints, log and final model.

    `on_step(step, policy)`, if given, runs on the main process after each step is logged
    (e.g. a held-out evaluation); the policy's train/eval mode is restored afterwards.
    """
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=cpu_only())
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    # log-probs of the distribution the rollouts are sampled from (logits / temperature)
    model = TokenLogprobs(policy, cfg.temperature)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    ref = None
    if cfg.beta != 0:
        ref = TokenLogprobs(ref_policy, cfg.temperature).to(accelerator.device).eval()
        ref.requires_grad_(False)
    start = 0
    ckpt = last_checkpoint(cfg.out) if cfg.resume else None
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        start = json.loads((ckpt / STATE_NAME).read_text())["step"]
        accelerator.print(f"resumed from {ckpt} at step {start}")
        if accelerator.is_main_process:
            trim_log(cfg.out, start)
    rollout_config = agent_config.__class__.from_dict(
        {**agent_config.to_dict(), "temperature": cfg.temperature, "top_p": cfg.top_p})
    stores = StoreCache(agent_config, media_root, size=64)
    pad_id = processor.tokenizer.pad_token_id
    rank, world = accelerator.process_index, accelerator.num_processes
    for step in range(start, cfg.steps):
        t0 = time.time()
        policy_now = accelerator.unwrap_model(model).policy
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step * 1009 + rank)
        batch = collect(policy_now, processor, step_items(items, cfg, step, rank, world), cfg.group_size,
                        rollout_config, media_root, cfg.alpha, gen)
        t1 = time.time()
        examples = batch_examples(batch, processor, stores, agent_config.memory_window,
                                  skip_zero=cfg.beta == 0)
        stats = dict(batch.stats)
        batches = micro_batches(examples, pad_id, cfg.micro_batch, accelerator.device)
        # with one pass the policy before the update *is* the rollout policy: `update` uses its
        # own log-probs, detached, and saves a forward
        old = frozen_logprobs(model, batches) if cfg.ppo_epochs > 1 else [None] * len(batches)
        ref_lp = frozen_logprobs(ref, batches) if ref is not None else [None] * len(batches)
        advantages = batch.advantages.flatten().to(accelerator.device)
        # every process calls update, even without sequences: the gradient average needs them all
        stats.update(update(accelerator, model, optimizer, batches, old, ref_lp, advantages, cfg))
        stats = {k: float(accelerator.reduce(torch.tensor(float(v), device=accelerator.device), "mean"))
                 for k, v in stats.items()}
        record = {"step": step + 1, **{k: round(v, 5) for k, v in stats.items()},
                  "rollout_s": round(t1 - t0, 2), "update_s": round(time.time() - t1, 2)}
        if accelerator.is_main_process:
            log_line(cfg.out, record)
            if on_step is not None:
                was_training = policy_now.training
                on_step(step + 1, policy_now)
                policy_now.train(was_training)
        if cfg.save_steps and (step + 1) % cfg.save_steps == 0 and step + 1 < cfg.steps:
            save_checkpoint(accelerator, cfg.out, step + 1)
    accelerator.wait_for_everyone()
    final = accelerator.unwrap_model(model).policy
    if accelerator.is_main_process:
        final.save_pretrained(cfg.out)
        processor.save_pretrained(cfg.out)
        (Path(cfg.out) / "grpo_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    stores.close()
    return final


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", required=True,
                   help='JSONL of items {"id", "prompt", "videos": [a, b], "labels": {...}}')
    add_model_arguments(p)
    p.add_argument("--ref-model", default=None, help="frozen KL reference (default: --model)")
    for name, default, kind, help_text in [
        ("steps", 100, int, "optimiser steps"), ("items-per-step", 4, int, "items per process per step"),
        ("group-size", 8, int, "G, rollouts per item"), ("ppo-epochs", 1, int, "updates per rollout batch"),
        ("micro-batch", 8, int, "turn sequences per forward"), ("lr", 1e-5, float, "learning rate"),
        ("weight-decay", 0.0, float, None), ("max-grad-norm", 1.0, float, None),
        ("clip-eps", 0.2, float, "PPO ratio clip"), ("beta", 0.04, float, "KL coefficient (0: no reference)"),
        ("alpha", 0.5, float, "accuracy weight of the overall judgment"),
        ("temperature", 1.0, float, "rollout sampling temperature"), ("top-p", 1.0, float, None),
        ("save-steps", 50, int, "checkpoint every this many steps")]:
        p.add_argument(f"--{name}", type=kind, default=default, help=help_text)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    add_agent_arguments(p)


def main(args: argparse.Namespace) -> int:
    cfg = GRPOConfig.from_args(args)
    agent_config = agent_config_from_args(args)
    policy, processor = load_policy(args.model, args.dtype, args.min_pixels, args.max_pixels)
    ref = None
    if cfg.beta != 0:
        ref, _ = load_policy(args.ref_model or args.model, args.dtype, args.min_pixels, args.max_pixels)
    items = read_items(args.items)
    train_grpo(policy, processor, ref, items, agent_config, cfg, default_media_root(args.items, args.media_root))
    return 0
