"""Every training objective, as pure tensor math (no model, no data loader), so each can be checked by hand.

Reward models (mmreward/train/reward/):
    bradley_terry_loss  = -log sigmoid(r_chosen - r_rejected)
    answer_token_loss   = cross-entropy of the yes/no answer token
The agent's GRPO (mmreward/train/agent/grpo.py), per token of the model's own text:
    ratio  = exp(logp - old_logp)                      (old = the policy that sampled the rollout)
    pg     = -min(ratio * A, clip(ratio, 1-eps, 1+eps) * A)
    kl     = exp(ref - logp) - (ref - logp) - 1        (k3 estimator of KL(policy || reference))
    loss   = sum over tokens (pg + beta * kl) / number of tokens
`A` is the group-normalised advantage of the rollout the token belongs to.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(r_chosen - r_rejected), averaged over pairs."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def answer_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the answer, one position per row (logits over yes/no or the vocabulary)."""
    return F.cross_entropy(logits.float(), targets)


def group_advantages(rewards: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """(r - mean) / (std + eps) within each group; `rewards` is [groups, G] (or [G]).

    When every rollout of a group earned the same reward the group teaches nothing,
    and (r - mean) is exactly zero, so its advantages are exactly zero.
    """
    r = rewards.float()
    squeeze = r.dim() == 1
    if squeeze:
        r = r.unsqueeze(0)
    mean = r.mean(dim=1, keepdim=True)
    # population std: defined for G = 1 too (an advantage of 0, not NaN)
    std = r.std(dim=1, keepdim=True, unbiased=False)
    adv = (r - mean) / (std + eps)
    return adv.squeeze(0) if squeeze else adv


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || ref): unbiased, always >= 0, low variance."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


@dataclass
class LossParts:
    loss: torch.Tensor  # scalar to backpropagate
    policy_loss: torch.Tensor  # the clipped-ratio term alone (detached)
    kl: torch.Tensor  # mean k3 KL over the tokens (detached)
    clip_fraction: torch.Tensor  # share of tokens whose ratio was clipped (detached)


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    ref_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_eps: float = 0.2,
    beta: float = 0.04,
    num_tokens: float | None = None,
) -> LossParts:
    """Clipped-ratio GRPO loss over the masked tokens.

    logp, old_logp, ref_logp, mask: [rows, L]; advantages: [rows] (one per row, broadcast over
    its tokens). `num_tokens` is the normaliser: the token count of the whole optimiser step
    when the step is split into micro-batches (default: this batch's own count).
    """
    mask = mask.to(logp.dtype)
    adv = advantages.to(logp.dtype).unsqueeze(-1)
    ratio = torch.exp(logp - old_logp)
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    pg = -torch.minimum(ratio * adv, clipped * adv)
    kl = k3_kl(logp, ref_logp) if ref_logp is not None and beta != 0 else torch.zeros_like(logp)
    per_token = pg + beta * kl
    n = mask.sum() if num_tokens is None else torch.as_tensor(num_tokens, dtype=logp.dtype)
    n = torch.clamp(n, min=1.0)
    loss = (per_token * mask).sum() / n
    with torch.no_grad():
        m = mask.sum().clamp(min=1.0)
        was_clipped = ((ratio - clipped).abs() > 0).to(logp.dtype)
        parts = dict(
            policy_loss=(pg * mask).sum() / m,
            kl=(kl * mask).sum() / m,
            clip_fraction=(was_clipped * mask).sum() / m,
        )
    return LossParts(loss=loss, **{k: v.detach() for k, v in parts.items()})
