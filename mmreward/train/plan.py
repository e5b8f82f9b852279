"""The memory plan of a training run, per GPU, before the run (`mmreward train STAGE ... --plan`).

Read from the model's configuration alone (a directory with only `config.json` is enough): the
model is built on PyTorch's meta device (shapes, no memory), with the stage's head and LoRA
adapters put on it by the same code the run uses, so parameter counts and dtypes are the run's.
Per GPU, in bytes:

  params       every weight, in its dtype (--dtype; fp32 master weights by default), divided as the
               strategy shards it: FSDP2 gives each process its dim-0 slice of every weight (the first
               process the largest: ceil(rows / N) rows, which is what is reported); DeepSpeed ZeRO-3
               an even slice of each; DDP and ZeRO-2 keep whole weights
  grads        the trained weights' gradients (sharded by FSDP and ZeRO-2/3)
  optimizer    AdamW's two moments per trained weight in its dtype (SGD: none), sharded likewise;
               DeepSpeed with bf16 keeps an fp32 master copy too (12 bytes per trained weight)
  reference    GRPO's frozen KL reference (a second copy; none with LoRA: the adapters are switched off)
  ddp_buckets  DDP's gradient buckets (a second copy of the gradients) with more than one process
  gathered     FSDP: the units gathered for compute (the root's own weights throughout, two layers at a
               time), in the compute dtype (estimate)
  activations  saved for backward in the language model: tokens x layers x (10 h + 4 i) elements,
               or only each layer's input plus one layer's worth with activation checkpointing
               (estimate; the vision encoder, the logits of the labelled tokens and the CUDA context
               are not counted)

params, grads and optimizer are exact for the tiny models (a test compares them with what a run
holds after its first step); the rest are estimates, and `fits` compares the total with
--gpu-memory-gb (decimal GB, as GPUs are sold).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Literal

from mmreward.errors import ConfigError

EXACT = ("params_bytes", "grads_bytes", "optimizer_bytes")
PARTS = EXACT + ("reference_bytes", "ddp_buckets_bytes", "gathered_bytes", "activations_bytes")
# sequences one forward pass holds per example: a pair is scored chosen + rejected (bt) or asked in
# both orders (yes-token); the agent stages train one turn sequence per example
SEQUENCES_PER_EXAMPLE = {"bt": 2, "yes-token": 2, "traces": 1, "rft": 1, "grpo": 1}


@dataclass
class PlanOptions:
    """The memory plan: print it instead of training."""

    _argument_group_name = "memory plan"

    plan: bool = field(default=False, metadata={
        "help": "print the memory per GPU this run needs (weights, gradients, optimizer, activations) and "
                "exit; reads only the model's config.json", "nargs": "?", "const": True})
    plan_gpus: int | None = field(default=None, metadata={
        "help": "GPUs to plan for. Default: the processes of this launch"})
    gpu_memory_gb: float = field(default=80.0, metadata={"help": "memory of one GPU, in GB"})
    plan_seq_len: int = field(default=2048, metadata={
        "help": "tokens per sequence (text + image/video tokens) for the activation estimate"})
    format: Literal["text", "json"] = field(default="text", metadata={"help": "text, or one JSON object"})

    def __post_init__(self):
        for name in ("plan_gpus", "plan_seq_len"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not self.gpu_memory_gb > 0:
            raise ConfigError(f"--gpu-memory-gb must be positive, got {self.gpu_memory_gb}")


@dataclass
class Setup:
    """What the plan depends on, read from a stage's options (`setup_of`)."""

    stage: str
    model: str
    dtype: str | None
    sequences: int  # per forward pass (micro-batch)
    gpus: int
    strategy: str  # ddp | fsdp | zero2 | zero3
    shard: int  # processes one model copy is sharded over
    bf16: bool
    optimizer_states: int
    checkpointing: bool
    reference: bool
    seq_len: int
    dimensions: list = field(default_factory=list)


def setup_of(stage: str, model_options, lora, cfg, plan: PlanOptions) -> Setup:
    from mmreward.train.common import world_size

    gpus = plan.plan_gpus or world_size()
    batch = getattr(cfg, "per_device_train_batch_size", None) or cfg.micro_batch
    strategy, shard = "ddp", 1
    if getattr(cfg, "deepspeed", None):
        strategy, shard = f"zero{zero_stage(cfg.deepspeed)}", gpus
    elif getattr(cfg, "fsdp", None):
        shard = getattr(cfg, "fsdp_shard_size", None) or gpus
        strategy = "fsdp" if shard == gpus else "hsdp"
    optim = str(getattr(getattr(cfg, "optim", "adamw"), "value", getattr(cfg, "optim", "adamw"))).lower()
    states = 0 if "sgd" in optim else 1 if "lion" in optim else 2
    checkpointing = bool(getattr(cfg, "activation_checkpointing", False) or getattr(cfg, "gradient_checkpointing", False))
    reference = stage == "grpo" and cfg.beta != 0 and not lora.enabled
    return Setup(stage, model_options.model, model_options.dtype, batch * SEQUENCES_PER_EXAMPLE[stage], gpus,
                 strategy, shard, bool(cfg.bf16), states, checkpointing, reference, plan.plan_seq_len,
                 list(getattr(cfg, "dimensions", []) or []))


def zero_stage(config) -> int:
    try:
        data = config if isinstance(config, dict) else json.loads(open(config, encoding="utf-8").read())
        return int(data["zero_optimization"]["stage"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"--deepspeed {config}: cannot read zero_optimization.stage ({exc})") from None


def meta_model(setup: Setup, lora):
    """The stage's module on the meta device: backbone (+ reward head) (+ LoRA), as the run builds it."""
    import torch

    from mmreward.models.backbone import model_class_for, resolve_dtype, resolve_name
    from mmreward.train.lora import prepare

    path = resolve_name(setup.model)
    cls = model_class_for(path)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        backbone = cls._from_config(config, dtype=resolve_dtype(setup.dtype, "cpu"))
        prepare(backbone, lora)
        if setup.stage != "bt":
            return backbone, backbone
        from mmreward.models.config import RewardConfig
        from mmreward.models.scalar import ScalarRewardModel

        return ScalarRewardModel(backbone, RewardConfig(dimensions=setup.dimensions)), backbone


def first_shard(shape, n: int) -> int:
    """Elements of the largest dim-0 slice FSDP2 gives one of `n` processes (the first's)."""
    if not shape:
        return 1
    return min(math.ceil(shape[0] / n), shape[0]) * math.prod(shape[1:])


def compute(setup: Setup, lora, gpu_memory_gb: float) -> dict:
    module, backbone = meta_model(setup, lora)
    params = [p for _, p in module.named_parameters()]
    trained = [p for p in params if p.requires_grad]
    n = setup.shard

    def held(ps, element_bytes=None) -> int:
        if setup.strategy in ("fsdp", "hsdp"):
            return sum(first_shard(p.shape, n) * (element_bytes or p.element_size()) for p in ps)
        if setup.strategy == "zero3":
            return sum(math.ceil(p.numel() / n) * (element_bytes or p.element_size()) for p in ps)
        return sum(p.numel() * (element_bytes or p.element_size()) for p in ps)

    zero = setup.strategy.startswith("zero")
    low = 2 if setup.bf16 else None  # DeepSpeed's bf16 mode keeps the model in bf16
    out = {"params_bytes": held(params, low if zero else None)}
    if zero:
        split = lambda ps, b: sum(math.ceil(p.numel() / n) * (b or p.element_size()) for p in ps)  # noqa: E731
        out["grads_bytes"] = split(trained, low)
        out["optimizer_bytes"] = split(trained, 4) * (setup.optimizer_states + (1 if setup.bf16 else 0))
    else:
        out["grads_bytes"] = held(trained)
        out["optimizer_bytes"] = held(trained) * setup.optimizer_states
    out["reference_bytes"] = held([p for _, p in backbone.named_parameters()]) if setup.reference else 0
    out["ddp_buckets_bytes"] = sum(p.numel() * p.element_size() for p in trained) \
        if setup.strategy == "ddp" and setup.gpus > 1 else 0
    compute_bytes = 2 if setup.bf16 else (params[0].element_size() if params else 4)
    out["gathered_bytes"] = gathered(module, compute_bytes) if setup.strategy in ("fsdp", "hsdp") else 0
    out["activations_bytes"] = activations(backbone.config, setup, compute_bytes)
    total = sum(out[k] for k in PARTS)
    return {"stage": setup.stage, "model": setup.model, "gpus": setup.gpus, "strategy": setup.strategy,
            "shard_size": n, "lora_r": lora.lora_r, "dtype": str(params[0].dtype).removeprefix("torch."),
            "bf16": setup.bf16, "sequences_per_pass": setup.sequences, "seq_len": setup.seq_len,
            "activation_checkpointing": setup.checkpointing,
            "parameters": sum(p.numel() for p in params), "trained_parameters": sum(p.numel() for p in trained),
            **out, "total_bytes": total, "gpu_memory_bytes": int(gpu_memory_gb * 1e9),
            "fits": total <= gpu_memory_gb * 1e9}


def gathered(module, element_bytes: int) -> int:
    """The root unit's weights (gathered for the whole pass) and two layers (the current, the next)."""
    from mmreward.train.sharding import layer_classes

    names = set(layer_classes(module))
    layers = [m for m in module.modules() if type(m).__name__ in names]
    in_layers = {id(p) for m in layers for p in m.parameters()}
    root = sum(p.numel() for p in module.parameters() if id(p) not in in_layers)
    largest = max((sum(p.numel() for p in m.parameters()) for m in layers), default=0)
    return (root + 2 * largest) * element_bytes


def activations(config, setup: Setup, element_bytes: int) -> int:
    text = getattr(config, "text_config", config)
    h, i, layers = text.hidden_size, text.intermediate_size, text.num_hidden_layers
    tokens = setup.sequences * setup.seq_len
    per_layer = (10 * h + 4 * i) * element_bytes
    if setup.checkpointing:
        return tokens * (layers * h * element_bytes + per_layer)
    return tokens * layers * per_layer


def report(plan: dict) -> str:
    gib = lambda b: f"{b / 2**30:8.2f} GiB"  # noqa: E731
    lines = [f"memory plan, {plan['stage']} on {plan['model']}: {plan['parameters']:,} parameters, "
             f"{plan['trained_parameters']:,} trained (LoRA r={plan['lora_r']})" if plan["lora_r"] else
             f"memory plan, {plan['stage']} on {plan['model']}: {plan['parameters']:,} parameters, all trained "
             f"except {plan['parameters'] - plan['trained_parameters']:,}",
             f"  {plan['gpus']} GPU(s), {plan['strategy']} (shards of {plan['shard_size']}), weights "
             f"{plan['dtype']}, bf16 compute {plan['bf16']}, {plan['sequences_per_pass']} sequences of "
             f"{plan['seq_len']} tokens a pass, activation checkpointing {plan['activation_checkpointing']}"]
    for part in PARTS:
        lines.append(f"  {part.removesuffix('_bytes'):<12}{gib(plan[part])}{'' if part in EXACT else '  (estimate)'}")
    verdict = "fits" if plan["fits"] else "does NOT fit"
    lines.append(f"  {'total':<12}{gib(plan['total_bytes'])}  per GPU: {verdict} in {plan['gpu_memory_bytes'] / 1e9:g} GB")
    return "\n".join(lines)


def print_plan(stage: str, model_options, lora, cfg, plan: PlanOptions) -> int:
    result = compute(setup_of(stage, model_options, lora, cfg, plan), lora, plan.gpu_memory_gb)
    print(json.dumps(result) if plan.format == "json" else report(result))
    return 0

