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
from functools import partial
from typing import Literal

import torch

from mmreward.scoring.batching import collate
from mmreward.scoring.prompts import pairwise_question, pointwise_question
from mmreward.train.common import TrainArguments
from mmreward.train.lora import NO_LORA
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


class AnswerLogits(torch.nn.Module):
    """The yes-token reward module, with a forward that returns the answer position's logits: over
    yes/no, or over the vocabulary (`vocab`). Everything the loss needs runs inside `forward`, which is
    what DDP and FSDP wrap (FSDP gathers a unit's weights in its forward). Saves as the module it wraps."""

    def __init__(self, module, vocab: bool = False):
        super().__init__()
        self.module, self.vocab = module, vocab

    def forward(self, **batch) -> torch.Tensor:
        hidden = self.module.answer_hidden(batch)
        if self.vocab:
            return self.module.backbone.get_output_embeddings()(hidden)  # [batch, vocab]
        return self.module.yes_no_logits(hidden)  # [batch, 2]

    def save_pretrained(self, directory, processor=None, state_dict=None) -> None:
        from mmreward.models.reward_module import part

        self.module.save_pretrained(directory, processor, part(state_dict, "module."))

    def load_weights(self, directory) -> None:
        self.module.load_weights(directory)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None, activation_checkpointing_kwargs=None, **_):
        self.module.gradient_checkpointing_enable(gradient_checkpointing_kwargs or activation_checkpointing_kwargs)

    activation_checkpointing_enable = gradient_checkpointing_enable


def answer_figures(logits: torch.Tensor, target: torch.Tensor) -> dict:
    """Accuracy (the target answer scores higher than the other) and margin (by how much), on the
    yes/no logits: columns 0 = yes, 1 = no; `target` 0 = yes, 1 = no."""
    rows = torch.arange(len(target), device=logits.device)
    margin = (logits[rows, target] - logits[rows, 1 - target]).detach().float()
    return {"accuracy": (margin > 0).float().mean(), "margin": margin.mean()}


def yes_no_loss(model, inputs, num_items_in_batch=None):
    logits = model(**inputs["batch"])  # [batch, 2]
    target = (~inputs["yes"]).long()  # class 0 = yes, 1 = no
    return answer_token_loss(logits, target), answer_figures(logits, target)


def vocab_loss(model, inputs, num_items_in_batch=None, ids: tuple[int, int] = (0, 1)):
    """`ids`: the yes and no token ids (bound by `main`)."""
    logits = model(**inputs["batch"])  # [batch, vocab]
    yes, no = ids
    targets = torch.where(inputs["yes"], yes, no)
    return answer_token_loss(logits, targets), answer_figures(logits[:, [yes, no]], (~inputs["yes"]).long())


def main(model, data, cfg: YesTokenSFTConfig, lora=NO_LORA) -> int:
    """`model`: TrainModelOptions, `data`: PreferenceData, `lora`: LoraOptions."""
    from mmreward.train.trainer import fit, load_reward_model

    rm = load_reward_model(model, data, "generative")
    rm.config.form = cfg.form
    vocab = cfg.answer_loss == "vocab"
    loss = partial(vocab_loss, ids=(rm.module.yes_id, rm.module.no_id)) if vocab else yes_no_loss
    return fit(rm, data, cfg, YesNoCollator(rm.processor, cfg.form), loss, lora, trained=AnswerLogits(rm.module, vocab))
