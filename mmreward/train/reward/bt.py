"""Bradley-Terry training of the scalar reward head and backbone (BaseReward recipe).

    mmreward train bt --data train.jsonl --media-root DIR --out runs/bt [--eval-data test.jsonl]
    accelerate launch -m mmreward.cli train bt ... [--fsdp] [--lora-r 16]   # several GPUs / nodes

Model: backbone + MLP heads. Data: records with 2 candidates and `chosen`,
optionally `dimension_chosen: {"VQ": 0|1|null, ...}` for the named heads.
Loss: -log sigmoid(r_chosen - r_rejected), summed over the heads that have a label.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mmreward.models.head import OVERALL
from mmreward.scoring.batching import collate
from mmreward.scoring.prompts import scalar_prompt
from mmreward.train.common import TrainArguments
from mmreward.train.lora import NO_LORA
from mmreward.train.objectives import bradley_terry_loss


@dataclass(kw_only=True)
class BTConfig(TrainArguments):
    stage = "bt"

    dimensions: list[str] = field(default_factory=list, metadata={
        "help": "extra named heads trained from 'dimension_chosen', e.g. VQ MQ TA"})


class PairCollator:
    """Batch of pairs -> one padded batch: all chosen prompts, then all rejected prompts."""

    def __init__(self, processor, dimensions):
        self.processor, self.dimensions = processor, dimensions

    def __call__(self, examples):
        chosen, rejected, labels = [], [], {d: [] for d in self.dimensions}
        for item, rec in examples:
            c = rec["chosen"]
            chosen.append(scalar_prompt(item, item.candidates[c]))
            rejected.append(scalar_prompt(item, item.candidates[1 - c]))
            per_dim = rec.get("dimension_chosen") or {}
            for d in self.dimensions:
                # stored relative to the pair's order here: True = the overall-chosen one is better
                v = per_dim.get(d)
                labels[d].append(None if v is None else v == c)
        return {"batch": collate(self.processor, chosen + rejected), "dimension_chosen": labels}


def bt_loss(model, inputs, num_items_in_batch=None):
    rewards = model(**inputs["batch"])
    n = rewards[OVERALL].shape[0] // 2
    chosen, rejected = rewards[OVERALL][:n], rewards[OVERALL][n:]
    loss = bradley_terry_loss(chosen, rejected)
    for dim, labels in inputs["dimension_chosen"].items():
        rows = [i for i, lab in enumerate(labels) if lab is not None]  # ties carry no signal
        if not rows:
            continue
        agrees = torch.tensor([labels[i] for i in rows], device=rewards[dim].device)
        first, second = rewards[dim][:n][rows], rewards[dim][n:][rows]
        loss = loss + bradley_terry_loss(torch.where(agrees, first, second),
                                         torch.where(agrees, second, first))
    margin = (chosen - rejected).detach()
    return loss, {"accuracy": (margin > 0).float().mean(), "margin": margin.mean()}


def main(model, data, cfg: BTConfig, lora=NO_LORA) -> int:
    """`model`: TrainModelOptions, `data`: PreferenceData, `lora`: LoraOptions."""
    from mmreward.train.trainer import fit, load_reward_model

    rm = load_reward_model(model, data, "scalar", dimensions=cfg.dimensions)
    return fit(rm, data, cfg, PairCollator(rm.processor, rm.config.dimensions), bt_loss, lora)
