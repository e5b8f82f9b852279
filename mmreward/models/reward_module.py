"""What the scalar and yes-token reward modules share: a transformers VLM inside an nn.Module.

The reward modules are plain `nn.Module`s (their heads and read-outs are not a
transformers architecture), but they expose the backbone's `config` and
`device` so that `transformers.Trainer` and accelerate treat them like a model,
and they save as an ordinary checkpoint directory plus `reward_config.json`.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmreward.models.config import RewardConfig
from mmreward.models.head import last_token_hidden


def model_inputs(batch) -> dict:
    """The keys a Qwen-VL `.model(...)` forward accepts (drops e.g. mm_token_type_ids on old versions)."""
    return {k: v for k, v in batch.items() if v is not None}


class BackboneRewardModule(nn.Module):
    def __init__(self, backbone, config: RewardConfig):
        super().__init__()
        self.backbone = backbone
        self.reward_config = config

    @property
    def config(self):
        """The backbone's transformers config (what Trainer and accelerate look for)."""
        return self.backbone.config

    @property
    def device(self):
        return self.backbone.device

    def last_hidden(self, batch) -> torch.Tensor:
        """Decoder hidden state at each row's last real token; `lm_head` is never applied."""
        out = self.backbone.model(**model_inputs(batch), use_cache=False)
        return last_token_hidden(out.last_hidden_state, batch["attention_mask"])

    def save_pretrained(self, directory: str | Path, processor=None) -> None:
        """An ordinary VLM checkpoint dir (config, safetensors, processor) plus reward_config.json."""
        self.backbone.save_pretrained(directory)
        if processor is not None:
            processor.save_pretrained(directory)
        self.reward_config.save(directory)

    def load_weights(self, directory: str | Path) -> None:
        """Copy the backbone weights saved in `directory` into this module (used to resume).

        Going through `from_pretrained` applies transformers' own key mapping and weight tying.
        """
        fresh = type(self.backbone).from_pretrained(str(directory), dtype=self.backbone.dtype)
        self.backbone.load_state_dict(fresh.state_dict())
