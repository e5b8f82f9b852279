"""Choosing the next token: greedy, or temperature + nucleus (top-p) sampling."""
from __future__ import annotations

import torch


def choose(logits: torch.Tensor, temperature: float, top_p: float,
           generator: torch.Generator | None = None, banned: torch.Tensor | None = None) -> tuple[int, float]:
    """(token, log-probability of that token under the model at temperature 1).

    The log-probability is the policy's own (unscaled, unmasked) one, the quantity
    GRPO's ratio and the KL term are recomputed from. `banned` token ids are never
    chosen (chat-control and vision tokens: an <|image_pad|> in the model's own text
    would demand an image that does not exist when the turn is trained on).
    """
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    if banned is not None:
        logits = logits.index_fill(-1, banned.to(logits.device), float("-inf"))
    if temperature <= 0:
        token = int(torch.argmax(logits))
    else:
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        if top_p < 1.0:
            probs = _nucleus(probs, top_p)
        token = _inverse_cdf(probs, generator)
    return token, float(logprobs[token])


def _inverse_cdf(probs: torch.Tensor, generator: torch.Generator | None) -> int:
    """One draw from `probs` (unnormalised is fine).

    Same distribution as torch.multinomial, at a fraction of its CPU cost over a 152k
    vocabulary (multinomial was ~45% of rollout time). A zero-probability token is never
    drawn: its cumulative mass equals its predecessor's, and searchsorted(right=True)
    returns the first index whose cumulative mass exceeds u.
    """
    device = generator.device if generator is not None else probs.device
    cdf = probs.to(device).cumsum(-1)
    u = torch.rand((1,), generator=generator, device=device) * cdf[-1]
    return min(int(torch.searchsorted(cdf, u, right=True)), probs.shape[-1] - 1)


def _nucleus(probs: torch.Tensor, top_p: float, k: int = 64) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose mass reaches top_p (the top one always).

    The nucleus of a trained model is usually a handful of tokens: look in the top k first
    and sort the whole 152k vocabulary only when those k do not reach top_p (same result,
    a full sort per token was most of a rollout's time).
    """
    vals, order = probs.topk(min(k, probs.shape[-1]))
    if float(vals.sum()) < top_p:
        vals, order = probs.sort(descending=True)
    before = vals.cumsum(-1) - vals  # mass of the tokens ranked above each one
    kept = vals.masked_fill(before >= top_p, 0.0)
    out = torch.zeros_like(probs).scatter(-1, order, kept)
    return out / out.sum()
