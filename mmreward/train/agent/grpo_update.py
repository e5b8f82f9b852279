"""GRPO's update: --ppo-epochs optimiser steps over one batch of rollouts, under DDP or FSDP.

Every backward pass is collective (DDP all-reduces, FSDP reduce-scatters), so every process must
take the same number of them, while processes hold different numbers of micro-batches (rollouts
differ in length, and groups that taught nothing are skipped): the shorter ones add passes whose
loss is multiplied by 0 (over one of their own micro-batches, or `spare()` when they have none).
Each loss is normalised by the token count of the step over all processes, times the process count
(DDP, FSDP and DeepSpeed average the gradients): the step is the one a single process would take on
the global batch. Under DDP the micro-batches accumulate under `no_sync` and the last pass
all-reduces them; under FSDP each pass reduce-scatters, so gradients stay sharded. Under DeepSpeed
the last pass is the engine's gradient-accumulation boundary (`backward`), where it reduces and
steps (`optimizer.step()` is then a no-op).
"""
from __future__ import annotations

from contextlib import nullcontext

import torch

from mmreward.train.agent.data import collate_turns
from mmreward.train.objectives import grpo_loss


@torch.no_grad()
def frozen_logprobs(module, batches: list[dict]) -> list[torch.Tensor]:
    return [module(**b)["logp"].detach() for b in batches]


def micro_batches(examples, pad_id: int, size: int, device) -> list[dict]:
    out = []
    for i in range(0, len(examples), size):
        b = collate_turns(examples[i:i + size], pad_id)
        out.append({k: v.to(device) for k, v in b.items()})
    return out


def backward(accelerator, zero, loss, boundary: bool) -> None:
    """One backward pass. DeepSpeed (`zero`, its engine) reduces the gradients and takes its optimizer
    step inside the engine's `step` at a gradient-accumulation boundary; accelerate's `backward` would
    make every pass one, so the engine is driven here with the boundary at the last pass."""
    if zero is None:
        accelerator.backward(loss)
        return
    zero.set_gradient_accumulation_boundary(boundary)
    zero.backward(loss)
    zero.step()


def update(accelerator, model, optimizer, batches, old, ref, advantages, cfg, spare, on_stepped=None) -> dict:
    """--ppo-epochs optimiser steps over the micro-batches of one rollout batch (see the module's
    docstring); `on_stepped()` runs after each optimizer step, before the gradients are cleared."""
    local = torch.tensor([[sum(int(b["labels"][:, 1:].ne(-100).sum()) for b in batches), len(batches)]],
                         device=accelerator.device)
    counts = accelerator.gather(local)  # [processes, 2]
    all_tokens, passes = int(counts[:, 0].sum()), int(counts[:, 1].max())
    totals = {"loss": 0.0, "policy_loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "tokens": float(local[0, 0])}
    if all_tokens == 0:  # no process has a token to learn from: leave the weights and Adam's moments alone
        return totals
    world = accelerator.num_processes
    sharded = accelerator.is_fsdp2
    zero = model if accelerator.distributed_type == "DEEPSPEED" else None  # the DeepSpeed engine
    filler = batches[0] if batches else (spare() if passes else None)
    for _ in range(cfg.ppo_epochs):
        optimizer.zero_grad()
        for i in range(passes):
            real = i < len(batches)
            b, o, r = (batches[i], old[i], ref[i]) if real else (filler, None, None)
            accumulate = i < passes - 1 and not sharded
            with accelerator.no_sync(model) if accumulate else nullcontext():
                out = model(**b)
                o = out["logp"].detach() if o is None else o  # one pass: the rollout policy is this one
                parts = grpo_loss(out["logp"], o, r, advantages[b["trace_index"]], out["mask"],
                                  cfg.clip_eps, cfg.beta, num_tokens=all_tokens / world)
                backward(accelerator, zero, parts.loss if real else parts.loss * 0.0, boundary=not accumulate)
            if real:  # token-weighted means over the step; their mean over processes is the global one
                share = float(out["mask"].sum()) * world / all_tokens / cfg.ppo_epochs
                totals["loss"] += float(parts.loss.detach()) / cfg.ppo_epochs
                for k in ("policy_loss", "kl", "clip_fraction"):
                    totals[k] += float(getattr(parts, k)) * share
        if cfg.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
        if on_stepped is not None:
            on_stepped()
    return totals
