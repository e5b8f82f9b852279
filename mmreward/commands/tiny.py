"""`mmreward tiny --out DIR`: write the offline tiny checkpoint."""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.commands.parsing import Command


@dataclass
class TinyConfig:
    out: str = field(metadata={"help": "directory to write (created)"})
    seed: int = field(default=0, metadata={"help": "weight initialisation seed"})


def run(cfg: TinyConfig) -> int:
    from mmreward.models.tiny import build_tiny

    out = build_tiny(cfg.out, seed=cfg.seed)
    print(f"wrote tiny Qwen2.5-VL checkpoint to {out}")
    return 0


COMMAND = Command(configs=(TinyConfig,), run=run, description=(
    "Write the tiny Qwen2.5-VL preset (real Qwen2 tokenizer, processor and chat template; random weights, "
    "~10M parameters) as an ordinary Hugging Face checkpoint directory that transformers loads offline."))
