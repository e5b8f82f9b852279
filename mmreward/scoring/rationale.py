"""Rationale first (generative mode): the model reasons in words, then P("yes") is read.

Two passes over a batch of yes/no questions:
  1. greedy generation of up to N tokens of rationale (the question asks for it);
  2. the prompt + rationale + ANSWER_CUE, with P(yes) read at the last position,
     exactly as in the one-pass form, so the reward is still a probability.
The rationale is returned with the reward, so a user can see why.
"""
from __future__ import annotations

import torch

from mmreward.scoring.batching import collate
from mmreward.scoring.prompts import Prompt

ANSWER_CUE = "\nAnswer:\n"  # ends the rationale; the next token is the judged yes / no


@torch.inference_mode()
def generate_rationales(backbone, processor, prompts: list[Prompt], max_new_tokens: int) -> list[str]:
    """Greedy rationale per prompt, cut at the end of the turn and stripped of any cue it wrote."""
    tok = processor.tokenizer
    # batched generation appends after the last column, so every row must end there: left
    # padding, for this call only (setting tok.padding_side would change it under other callers)
    batch = collate(processor, prompts, device=backbone.device, padding_side="left")
    out = backbone.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                            pad_token_id=tok.pad_token_id)
    texts = tok.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [clean(t) for t in texts]


def clean(text: str) -> str:
    """The rationale as the model wrote it, minus an answer line of its own (we add the cue)."""
    cut = text.find(ANSWER_CUE.strip())
    return (text[:cut] if cut >= 0 else text).strip()


def answer_suffixes(rationales: list[str]) -> list[str]:
    return [r + ANSWER_CUE for r in rationales]
