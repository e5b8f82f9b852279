"""Yes-token SFT (RewardDance): teach the VLM to answer `yes` exactly when A is the better one.

    mmreward train sft --objective yes-token --data train.jsonl --media-root DIR --out runs/yes

Each pair gives two examples, A/B in both orders, so the model cannot learn a
position preference. Loss (--answer-loss): `yes-no` (default) is the cross-entropy
of the softmax over the `yes`/`no` logits, i.e. -log of exactly the probability the
reward reads; `vocab` is the plain language-model loss of the answer token over the
whole vocabulary. Both are computed at the answer position only (one row per example).
With --form pointwise, each candidate is asked about alone instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from mmreward.scoring.batching import collate
from mmreward.scoring.prompts import pairwise_question, pointwise_question
from mmreward.train.common import TrainArguments
from mmreward.train.objectives import answer_token_loss


@dataclass(kw_only=True)
class YesTokenSFTConfig(TrainArguments):
    stage = "sft"

    form: Literal["pairwise", "pointwise"] = field(default="pairwise", metadata={
        "help": "pairwise: 'is A better than reference B?'; pointwise: 'is this candidate good?'"})
    answer_loss: Literal["yes-no", "vocab"] = field(default="yes-no", metadata={
        "help": "yes-no: cross-entropy over the yes/no logits (what the reward reads); "
                "vocab: cross-entropy of the answer token over the full vocabulary"})


class YesNoCollator:
    """Pairs -> prompts with their target answer (`yes`: True when the first-shown candidate is chosen)."""

    def __init__(self, processor, form: str):
        self.processor, self.form = processor, form

    def __call__(self, examples):
        prompts, targets = [], []
        for item, rec in examples:
            a, b = item.candidates
            if self.form == "pairwise":
                prompts += [pairwise_question(item, a, b), pairwise_question(item, b, a)]
                targets += [rec["chosen"] == 0, rec["chosen"] == 1]
            else:
                prompts += [pointwise_question(item, a), pointwise_question(item, b)]
                targets += [rec["chosen"] == 0, rec["chosen"] == 1]
        return {"batch": collate(self.processor, prompts), "yes": torch.tensor(targets)}


def yes_no_loss(model, inputs, num_items_in_batch=None):
    logits = model.yes_no_logits(model.answer_hidden(inputs["batch"]))  # [batch, 2]
    return answer_token_loss(logits, (~inputs["yes"]).long())  # class 0 = yes, 1 = no


def vocab_loss(model, inputs, num_items_in_batch=None):
    logits = model.backbone.get_output_embeddings()(model.answer_hidden(inputs["batch"]))  # [batch, vocab]
    targets = torch.where(inputs["yes"], model.yes_id, model.no_id)
    return answer_token_loss(logits, targets)


def main(model, data, cfg: YesTokenSFTConfig) -> int:
    """`model`: TrainModelOptions, `data`: PreferenceData."""
    from mmreward.train.trainer import fit, load_reward_model

    rm = load_reward_model(model, data, "generative")
    rm.config.form = cfg.form
    loss = yes_no_loss if cfg.answer_loss == "yes-no" else vocab_loss
    return fit(rm, data, cfg, YesNoCollator(rm.processor, cfg.form), loss)
