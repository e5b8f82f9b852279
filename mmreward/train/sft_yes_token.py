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

import argparse

import torch

from mmreward.scoring.batching import collate
from mmreward.scoring.prompts import pairwise_question, pointwise_question
from mmreward.train.common import SupervisedConfig, add_supervised_arguments, load_for_training
from mmreward.train.losses import answer_token_loss


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_supervised_arguments(p, default_lr=2e-4)
    p.add_argument("--form", choices=["pairwise", "pointwise"], default="pairwise",
                   help="pairwise: 'is A better than reference B?'; pointwise: 'is this candidate good?'")
    p.add_argument("--answer-loss", choices=["yes-no", "vocab"], default="yes-no",
                   help="yes-no: CE over the yes/no logits (what the reward reads; default); "
                        "vocab: CE of the answer token over the full vocabulary")


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


def yes_no_loss(model, inputs):
    logits = model.yes_no_logits(model.answer_hidden(inputs["batch"]))  # [batch, 2]
    return answer_token_loss(logits, (~inputs["yes"]).long())  # class 0 = yes, 1 = no


def vocab_loss(model, inputs):
    logits = model.backbone.get_output_embeddings()(model.answer_hidden(inputs["batch"]))  # [batch, vocab]
    targets = torch.where(inputs["yes"], model.yes_id, model.no_id)
    return answer_token_loss(logits, targets)


def main(args: argparse.Namespace) -> int:
    from mmreward.train.trainer import fit

    cfg = SupervisedConfig.from_args(args)
    rm = load_for_training(cfg, "generative")
    rm.config.form = args.form
    loss = yes_no_loss if args.answer_loss == "yes-no" else vocab_loss
    return fit(cfg, rm, YesNoCollator(rm.processor, args.form), loss)
