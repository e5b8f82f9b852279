"""Generative reward (RewardDance): reward = P("yes") at the answer position, one forward pass.

Only the `yes` and `no` rows of the output embedding are multiplied with the
answer position's hidden state; the rest of the vocabulary is never projected.
"""
from __future__ import annotations

import torch

from mmreward.models.config import RewardConfig
from mmreward.models.reward_module import BackboneRewardModule

YES, NO = "yes", "no"


def answer_token_ids(tokenizer) -> tuple[int, int]:
    ids = [tokenizer.convert_tokens_to_ids(t) for t in (YES, NO)]
    if any(i is None or i == tokenizer.unk_token_id for i in ids):
        raise ValueError("the tokenizer has no single 'yes' / 'no' tokens")
    return ids[0], ids[1]


class YesTokenRewardModel(BackboneRewardModule):
    def __init__(self, backbone, yes_id: int, no_id: int, config: RewardConfig | None = None):
        super().__init__(backbone, config or RewardConfig(mode="generative"))
        self.yes_id, self.no_id = yes_id, no_id

    def answer_hidden(self, batch) -> torch.Tensor:
        """Hidden state at the answer position: the last prompt token, which predicts the answer."""
        return self.last_hidden(batch)

    def yes_no_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        rows = self.backbone.get_output_embeddings().weight[[self.yes_id, self.no_id]]
        return hidden @ rows.T  # [batch, 2]; Qwen-VL's lm_head has no bias

    def forward(self, **batch) -> torch.Tensor:
        """P(yes) per row, from the softmax over the yes/no logits at the last real token
        (divided by the calibrated temperature, when the checkpoint has one)."""
        logits = self.yes_no_logits(self.answer_hidden(batch)).float()
        return (logits / (self.reward_config.temperature or 1.0)).softmax(dim=-1)[:, 0]
