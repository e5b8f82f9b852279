"""The BaseReward scalar head: Linear -> SiLU -> Linear -> 1, one per named dimension."""
from __future__ import annotations

import torch
from torch import nn

OVERALL = "overall"


class RewardHead(nn.Module):
    def __init__(self, hidden_size: int, inner_size: int | None = None):
        super().__init__()
        inner_size = inner_size or hidden_size
        self.fc1 = nn.Linear(hidden_size, inner_size)
        self.act = nn.SiLU()
        self.fc2 = nn.Linear(inner_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(hidden))).squeeze(-1)


class RewardHeads(nn.Module):
    """An `overall` head plus optional named dimension heads (e.g. VQ, MQ, TA)."""

    def __init__(self, hidden_size: int, dimensions: list[str] = (), inner_size: int | None = None):
        super().__init__()
        names = [OVERALL] + [d for d in dimensions if d != OVERALL]
        # a fixed seed: a fresh head on a plain VLM gives the same scores on every load
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.heads = nn.ModuleDict({n: RewardHead(hidden_size, inner_size) for n in names})

    @property
    def dimensions(self) -> list[str]:
        return [n for n in self.heads if n != OVERALL]

    def forward(self, hidden: torch.Tensor) -> dict[str, torch.Tensor]:
        # heads run in fp32: a bf16 backbone's last hidden state is upcast once here
        hidden = hidden.float()
        return {name: head(hidden) for name, head in self.heads.items()}


def last_token_hidden(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Hidden state of each row's last non-padding token, for left or right padding."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    last = (attention_mask.long() * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
