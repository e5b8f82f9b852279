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
from mmreward.train.sharding import require_deepspeed, start_deepspeed_comm


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


# The TrainingArguments options `train STAGE --help` shows beside the stage's own (all of them:
# --help-all); the rest keep the Trainer's defaults.
BRIEF_TRAINER_OPTIONS = (
    "max_steps", "optim", "weight_decay", "max_grad_norm", "fsdp", "fsdp_config", "deepspeed",
    "activation_checkpointing", "gradient_checkpointing", "resume_from_checkpoint", "report_to")


def world_size() -> int:
    """Processes of this launch (torchrun / accelerate launch set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@dataclass(kw_only=True)
class TrainArguments(TrainingArguments):
    """TrainingArguments with the defaults of this project's recipes (every Trainer option stays available)."""

    stage: ClassVar[str] = "train"  # the subcommand, for messages
    _argument_group_name: ClassVar[str] = "training"

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
    overwrite: bool = field(default=False, metadata={
        "help": "start over in an --out that holds an earlier run (its checkpoints and logs are removed)"})
    if "nargs" not in TrainingArguments.__dataclass_fields__["fsdp"].metadata:
        # transformers 5.9's --fsdp needs a value ("full_shard auto_wrap"); later releases also take
        # it bare, as the help and docs write it (True is FULL_SHARD on both)
        fsdp: str | None = field(default=None, metadata={
            "help": "shard the model with FSDP (bare, or the Trainer's options: 'full_shard auto_wrap')",
            "nargs": "?", "const": True})
    if "activation_checkpointing" not in TrainingArguments.__dataclass_fields__:
        # the name later releases gave gradient checkpointing (5.9 knows only the old one)
        gradient_checkpointing: bool = field(default=False, metadata={
            "aliases": ["--activation-checkpointing"], "help": "recompute activations in the backward pass"})
    fsdp_shard_size: int | None = field(default=None, metadata={
        "help": "with --fsdp: hybrid sharding (HSDP), each model copy sharded over this many processes (e.g. "
                "the GPUs of a node) and replicated across the groups. Default: one copy over all processes"})

    @classmethod
    def help_all_only(cls) -> set[str]:
        """Options `--help` leaves to `--help-all`: the Trainer's own, except the few that matter here."""
        inherited = TrainingArguments.__dataclass_fields__
        return {name for name, f in cls.__dataclass_fields__.items()
                if inherited.get(name) is f and name not in BRIEF_TRAINER_OPTIONS}

    def __post_init__(self):
        if self.use_cpu is None:  # without a GPU, torchrun processes must meet over gloo
            self.use_cpu = cpu_only()
        if self.bf16 is None:
            self.bf16 = default_bf16()
        require_deepspeed(self.deepspeed)
        if self.fsdp:
            # sharded states in checkpoints (each process writes its part); the whole model is written beside
            config = self.fsdp_config if isinstance(self.fsdp_config, dict) else read_json(self.fsdp_config)
            self.fsdp_config = {"state_dict_type": "SHARDED_STATE_DICT", **(config or {})}
            self.parallelism_config = hybrid_sharding(self.fsdp_shard_size)
        elif self.fsdp_shard_size:
            raise ConfigError("--fsdp-shard-size applies to FSDP: add --fsdp")
        super().__post_init__()
        if self.use_cpu:
            self.dataloader_pin_memory = False  # nothing to pin for
        if self.deepspeed:
            _ = self.device  # the launch's process group, which DeepSpeed's communicator joins
            start_deepspeed_comm()
            # the run ends with an ordinary checkpoint directory, under ZeRO-3 too: the Trainer gathers
            # the partitions for it only with this set (else it writes ZeRO's shards alone)
            zero = self.hf_deepspeed_config.config.setdefault("zero_optimization", {})
            if zero.get("stage") == 3:
                zero.setdefault("stage3_gather_16bit_weights_on_model_save", True)


def read_json(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--fsdp-config {path}: cannot be read as JSON ({exc})") from None


def hybrid_sharding(shard_size: int | None):
    """accelerate's ParallelismConfig for HSDP: shard within groups of `shard_size`, replicate across."""
    world = world_size()
    if not shard_size or world == 1:  # one process: nothing to shard (a --plan may still name a size)
        return None
    if shard_size < 1 or world % shard_size:
        raise ConfigError(f"--fsdp-shard-size {shard_size} must divide the number of processes ({world})")
    if cpu_only():  # accelerate checks its ParallelismConfig against GPU process groups only
        raise ConfigError("--fsdp-shard-size: hybrid sharding runs on GPU processes only; on CPU processes "
                          "shard over all of them (--fsdp alone)")
    from accelerate.parallelism_config import ParallelismConfig

    return ParallelismConfig(dp_shard_size=shard_size, dp_replicate_size=world // shard_size)


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


def add_to_summary(out: str, **entries) -> dict:
    """train_summary.json with `entries` put first (a recipe's own figures beside the run's)."""
    path = Path(out, "train_summary.json")
    summary = {**entries, **(json.loads(path.read_text()) if path.is_file() else {})}
    write_summary(out, summary)
    return summary
