"""Log-probabilities of the model's own tokens, without the full-vocabulary projection.

A Qwen-VL `lm_head` over a 152k vocabulary at every position of a 1-2k token
multi-image context costs gigabytes for the handful of assistant tokens that carry
a label. This module runs the decoder once, keeps the hidden states that predict a
labelled token, and projects only those. It is an `nn.Module` so that DDP/FSDP
wrap it and gradient synchronisation follows its `forward`.
"""
from __future__ import annotations

import torch
from torch import nn

from mmreward.train.agent.data import IGNORE

MODEL_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")


class TokenLogprobs(nn.Module):
    def __init__(self, policy, temperature: float = 1.0):
        super().__init__()
        self.policy = policy  # a Qwen-VL *ForConditionalGeneration
        # GRPO samples at temperature T and optimises that sampling distribution, softmax(logits / T)
        self.temperature = temperature

    def forward(self, labels: torch.Tensor, **batch) -> dict[str, torch.Tensor]:
        """logp[b, i] = log p(labels[b, i+1] | tokens <= i), mask[b, i] = that label is trained.

        Both are [B, L-1]; logp is 0 where mask is False.
        """
        inputs = {k: v for k, v in batch.items() if k in MODEL_KEYS and v is not None}
        hidden = self.policy.model(**inputs, use_cache=False).last_hidden_state[:, :-1]
        targets = labels[:, 1:]
        mask = targets != IGNORE
        logits = self.policy.lm_head(hidden[mask]).float() / self.temperature
        picked = torch.log_softmax(logits, dim=-1).gather(-1, targets[mask].unsqueeze(-1)).squeeze(-1)
        logp = torch.zeros(targets.shape, dtype=picked.dtype, device=picked.device)
        logp = logp.masked_scatter(mask, picked)
        return {"logp": logp, "mask": mask}

    # what the Trainer's checkpoints need: the policy's own checkpoint directory (its adapters, with
    # LoRA), loaded back strictly; `state_dict`: this module's weights gathered from shards
    def save_pretrained(self, directory, processor=None, state_dict=None) -> None:
        from mmreward.models.adapters import save_backbone
        from mmreward.models.reward_module import part

        save_backbone(self.policy, directory, part(state_dict, "policy."))
        if processor is not None:
            processor.save_pretrained(directory)

    def load_weights(self, directory) -> None:
        from mmreward.models.adapters import has_adapters, load_adapters_strictly
        from mmreward.models.reward_module import load_weights_strictly

        (load_adapters_strictly if has_adapters(self.policy) else load_weights_strictly)(self.policy, directory)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None, activation_checkpointing_kwargs=None, **_):
        from mmreward.models.backbone import enable_checkpointing

        enable_checkpointing(self.policy, gradient_checkpointing_kwargs or activation_checkpointing_kwargs)

    activation_checkpointing_enable = gradient_checkpointing_enable


def causal_lm_loss(logp: torch.Tensor, mask: torch.Tensor, num_items: int | None = None) -> torch.Tensor:
    """Mean negative log-likelihood of the labelled tokens (the standard causal-LM loss).

    `num_items`: token count of the whole optimiser step under gradient accumulation.
    """
    n = mask.sum() if num_items is None else num_items
    return -(logp * mask).sum() / max(int(n), 1)
