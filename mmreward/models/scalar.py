"""Scalar reward model (BaseReward recipe): VLM backbone + MLP head on the last real token.

The head reads the decoder's last hidden state, so the 152k-row vocabulary
projection (`lm_head`) is never computed.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmreward.models.config import HEAD_WEIGHTS_NAME, RewardConfig
from mmreward.models.head import RewardHeads
from mmreward.models.reward_module import BackboneRewardModule, part

log = logging.getLogger(__name__)


def text_hidden_size(backbone) -> int:
    cfg = backbone.config
    return getattr(cfg, "text_config", cfg).hidden_size


class ScalarRewardModel(BackboneRewardModule):
    def __init__(self, backbone, config: RewardConfig):
        super().__init__(backbone, config)
        self.heads = RewardHeads(text_hidden_size(backbone), config.dimensions, config.head_inner_size)
        self.heads.to(backbone.device)

    def forward(self, **batch) -> dict[str, torch.Tensor]:
        """Rewards per head, each [batch]; `batch` is a processor output."""
        return self.heads(self.last_hidden(batch))

    def save_pretrained(self, directory: str | Path, processor=None, state_dict: dict | None = None) -> None:
        """The checkpoint dir plus reward_head.safetensors."""
        super().save_pretrained(directory, processor, state_dict)
        heads = part(state_dict, "heads.") if state_dict is not None else self.heads.state_dict()
        state = {k: v.detach().contiguous().cpu() for k, v in heads.items()}
        save_file(state, Path(directory) / HEAD_WEIGHTS_NAME)

    def load_weights(self, directory: str | Path) -> None:
        """Backbone and heads from a checkpoint (resuming): both must be there and match."""
        super().load_weights(directory)
        self.load_head(directory, required=True)

    def load_head(self, directory: str | Path, required: bool = False) -> bool:
        """Load the head from `directory`; without one: False with a warning, or an error if `required`."""
        from mmreward.errors import InputError

        path = Path(directory) / HEAD_WEIGHTS_NAME
        if not path.is_file():
            if required:
                raise InputError(f"{directory}: no reward head ({HEAD_WEIGHTS_NAME})")
            log.warning("%s has no reward head (%s): its scalar scores come from a freshly initialised, "
                        "UNTRAINED head and mean nothing until the head is trained (outputs carry "
                        "\"untrained_head\": true). For a released reward model see `mmreward models`.",
                        directory, HEAD_WEIGHTS_NAME)
            return False
        try:
            weights = load_file(str(path), device=str(self.device))
        except SafetensorError as exc:
            raise InputError(f"{path}: the reward head file is damaged (truncated or not safetensors: {exc})") from None
        try:
            self.heads.load_state_dict(weights)
        except RuntimeError as exc:  # missing, unexpected or differently shaped head weights
            raise InputError(f"{path}: the reward head does not match this model ({exc})") from None
        return True
