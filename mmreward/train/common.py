"""What every training stage shares: the Trainer settings, the precision rule, pairwise evaluation.

`TrainArguments` is `transformers.TrainingArguments` with this project's defaults and its
short flag names (`--out`, `--lr`, `--batch-size`, `--epochs`, `--grad-accum`, ...); each
Trainer stage's config subclasses it (`BTConfig`, `YesTokenSFTConfig`, `TraceSFTConfig`,
`RFTConfig`), and the CLI is generated from those dataclasses (`mmreward.commands.train`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from transformers import TrainingArguments
from transformers.trainer_utils import SchedulerType

from mmreward.errors import ConfigError
from mmreward.launch import cpu_only


def default_bf16() -> bool:
    """The precision rule of every stage: bf16 autocast over fp32 master weights wherever a GPU
    supports it, plain fp32 on CPU (`--bf16 true|false` overrides it)."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


# transformers before the removal of TrainingArguments.warmup_ratio (5.9 still has it, deprecated)
# declare their own --warmup-ratio, which their __post_init__ copies into warmup_steps
WARMUP_ALIASES = [] if "warmup_ratio" in TrainingArguments.__dataclass_fields__ else ["--warmup-ratio"]

BF16_HELP = ("bf16 autocast over the weights' own dtype (fp32 master weights unless --dtype says "
             "otherwise). Default: on where a GPU supports bf16, off on CPU")


def refuse_sharding(stage: str, fsdp=None, deepspeed=None) -> None:
    """FSDP and DeepSpeed are refused, not half-supported: see the README's training table."""
    launched = [k for k in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED")
                if os.environ.get(k, "").lower() in ("1", "true", "yes")]
    if fsdp or deepspeed or launched:
        why = ("its rollouts generate with the whole policy on every process" if stage == "grpo" else
               "its checkpoints are written in the reward-model layout from whole weights and resumed "
               "by a strict load before the model is wrapped")
        raise ConfigError(f"train {stage} does not support FSDP or DeepSpeed ({why}); run it under DDP: "
                          "`accelerate launch` with a multi-GPU config without FSDP/DeepSpeed, or torchrun")


@dataclass(kw_only=True)
class TrainArguments(TrainingArguments):
    """TrainingArguments with the defaults of this project's recipes (every Trainer option stays available)."""

    stage: ClassVar[str] = "train"  # the subcommand, for messages

    output_dir: str = field(metadata={
        "aliases": ["--out"], "help": "output directory: checkpoints, logs and the final model"})
    per_device_train_batch_size: int = field(default=8, metadata={
        "aliases": ["--batch-size"], "help": "examples per process per optimizer step (per accumulation step)"})
    num_train_epochs: float = field(default=1.0, metadata={"aliases": ["--epochs"], "help": "passes over the data"})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "aliases": ["--grad-accum"], "help": "micro-batches per optimizer step"})
    learning_rate: float = field(default=2e-4, metadata={"aliases": ["--lr"], "help": "peak learning rate"})
    warmup_steps: float = field(default=0.05, metadata={
        "aliases": WARMUP_ALIASES, "help": "learning-rate warm-up: a fraction of the steps if < 1, else steps"})
    lr_scheduler_type: SchedulerType | str = field(default="cosine", metadata={
        "aliases": ["--lr-scheduler"], "help": "transformers scheduler name"})
    logging_steps: float = field(default=10, metadata={"help": "log the loss every this many steps"})
    save_steps: float = field(default=500, metadata={"help": "write a checkpoint every this many steps"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept (the newest ones)"})
    seed: int = field(default=0, metadata={"help": "seed of the model's initialisation and data order"})
    bf16: bool | None = field(default=None, metadata={"help": BF16_HELP, "nargs": "?", "const": True})
    use_cpu: bool | None = field(default=None, metadata={
        "help": "CPU processes (gloo) even where a GPU exists. Default: only where there is no GPU",
        "nargs": "?", "const": True})
    remove_unused_columns: bool = field(default=False, metadata={
        "help": "keep False: the recipes' collators read fields the model does not take"})
    resume: bool = field(default=False, metadata={
        "help": "continue from the newest complete checkpoint in --out (incomplete ones are skipped)"})

    def __post_init__(self):
        if self.use_cpu is None:  # without a GPU, torchrun processes must meet over gloo
            self.use_cpu = cpu_only()
        if self.bf16 is None:
            self.bf16 = default_bf16()
        refuse_sharding(self.stage, self.fsdp, self.deepspeed)
        super().__post_init__()
        if self.use_cpu:
            self.dataloader_pin_memory = False  # nothing to pin for


def stage_default(base: type, name: str, default):
    """Field `name` of the dataclass `base` (same flags, same help) with another default."""
    inherited = base.__dataclass_fields__[name]
    return field(default=default, metadata=inherited.metadata)


def pairwise_accuracy(rm, records: list[dict], media_root=None, batch_size: int = 16) -> dict:
    """Share of pairs whose chosen candidate gets the strictly higher reward (ties are wrong)."""
    outs = rm.score(records, media_root=media_root, batch_size=batch_size)
    right = errors = 0
    for rec, out in zip(records, outs):
        if "error" in out:
            errors += 1
            continue
        c = rec["chosen"]
        right += out["rewards"][c] > out["rewards"][1 - c]
    return {"accuracy": right / len(records), "n": len(records), "errors": errors}


def write_summary(out: str, summary: dict) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    Path(out, "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
