"""GRPO for the video agent on multi-turn rollouts (`mmreward train grpo`).

Recipe, one optimiser step at a time:
  1. collect: G rollouts per item with the current policy (`rollouts.collect`: the agent loop,
     sampling; or a vLLM engine given the policy's weights, LoRA merged in, `--engine vllm`), seeded by (seed, step, the item's place
     in the step): the same on resume, and the same whatever the number of processes;
  2. score: reward = format + accuracy (alpha * overall + (1 - alpha) * mean over dimensions),
     advantages normalised within each group (`objectives.group_advantages`);
  3. sequences: every assistant turn of every rollout, in the context it was written in
     (memory window as at inference), loss only on the model's own tokens (`agent_data`);
  4. old log-probs (policy before the update) and reference log-probs (frozen model, or the policy
     with its LoRA adapters switched off), no grad;
  5. update: --ppo-epochs passes of the clipped-ratio loss + beta * k3 KL (`grpo_update.update`).
Processes: DDP or FSDP2 (`--fsdp`) under accelerate, or DeepSpeed ZeRO-1/2 (`--deepspeed`: on
GPUs, or its CPU accelerator without one). Each process rolls out its own items; under FSDP the weights are
gathered on every process for the rollouts and the frozen log-probs (`sharding.gathered`), and
sharded again for the update. Precision: bf16 autocast over fp32 master weights where a GPU supports
it (`--bf16`). An atomic checkpoint (model, optimizer, RNG, step; sharded states under FSDP) every
--save-steps and at the end; --resume continues from the newest complete one. A non-finite loss or
weight stops the run before anything of that step is saved. Logs go to stdout and
<out>/grpo_log.jsonl; the final policy (LoRA: merged, unless --lora-save adapters) to --out.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mmreward.engines import check_engine
from mmreward.errors import ConfigError, InputError, TrainingError
from mmreward.train import checkpoints, sharding
from mmreward.train.agent.common import StoreCache, default_media_root, load_policy, read_items
from mmreward.train.agent.data import encode_trace_turn
from mmreward.train.agent.grpo_update import frozen_logprobs, micro_batches, update
from mmreward.train.agent.logprobs import TokenLogprobs
from mmreward.train.agent.rollouts import batch_examples, collect
from mmreward.train.common import BF16_HELP, default_bf16, write_summary
from mmreward.train.lora import NO_LORA, MergedWeights, adapters_disabled, export_merged, prepare
from mmreward.train.plan import zero_stage
from mmreward.train.step_log import ADVICE, append_log, check_weights, read_log, trim_log

STATE_NAME = "grpo_state.json"  # the step; written last into a checkpoint
LOG_NAME = "grpo_log.jsonl"


@dataclass
class GRPOConfig:
    _argument_group_name = "grpo"

    out: str = field(metadata={"help": "output directory: checkpoints, grpo_log.jsonl and the final policy"})
    ref_model: str | None = field(default=None, metadata={"help": "frozen KL reference. Default: --model"})
    steps: int = field(default=100, metadata={"help": "optimiser steps, each on a fresh batch of rollouts"})
    items_per_step: int = field(default=4, metadata={"help": "items per process per step"})
    group_size: int = field(default=8, metadata={"help": "G: rollouts per item"})
    ppo_epochs: int = field(default=1, metadata={
        "help": "updates per batch of rollouts (1: the ratio is 1 and clipping idle)"})
    micro_batch: int = field(default=8, metadata={"help": "turn sequences per forward/backward pass"})
    lr: float = field(default=1e-5, metadata={"help": "learning rate (AdamW)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient norm clip (0: off)"})
    clip_eps: float = field(default=0.2, metadata={"help": "PPO ratio clip"})
    beta: float = field(default=0.04, metadata={"help": "KL coefficient (0: no reference model)"})
    alpha: float = field(default=0.5, metadata={
        "help": "accuracy = alpha * overall + (1 - alpha) * mean over the dimensions"})
    temperature: float = field(default=1.0, metadata={"help": "rollout sampling temperature (> 0)"})
    top_p: float = field(default=1.0, metadata={"help": "rollout nucleus sampling threshold"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every this many steps and at the end (0: never)"})
    seed: int = field(default=0, metadata={"help": "seed of the item order and the rollouts"})
    engine: Literal["hf", "vllm"] = field(default="hf", metadata={
        "help": "what samples the rollouts: hf (the policy, transformers) or vllm (a vLLM engine in this "
                "process, given the policy's weights before every step; extra mmreward[vllm])"})
    vllm_gpu_memory_utilization: float = field(default=0.3, metadata={
        "help": "--engine vllm on a GPU: the share of its memory the engine takes (the trainer has the rest)"})
    bf16: bool | None = field(default=None, metadata={"help": BF16_HELP, "nargs": "?", "const": True})
    activation_checkpointing: bool = field(default=False, metadata={
        "aliases": ["--gradient-checkpointing"], "nargs": "?", "const": True,
        "help": "activation checkpointing in the update: less memory, one more forward per layer"})
    fsdp: bool = field(default=False, metadata={
        "help": "shard weights, gradients and optimizer state over the processes (FSDP2); the rollouts "
                "generate with the weights gathered on every process", "nargs": "?", "const": True})
    fsdp_shard_size: int | None = field(default=None, metadata={
        "help": "with --fsdp: hybrid sharding, each copy sharded over this many processes. Default: all"})
    deepspeed: str | None = field(default=None, metadata={
        "help": "DeepSpeed JSON config (ZeRO stage 1 or 2; stage 3 shards the weights the rollouts need "
                "whole: use --fsdp). --max-grad-norm is its gradient_clipping unless the config sets one"})
    resume: bool = field(default=False, metadata={
        "help": "continue from the newest complete checkpoint in --out (incomplete ones are skipped)"})
    overwrite: bool = field(default=False, metadata={
        "help": "start over in an --out that holds an earlier run (its checkpoints and logs are removed)"})

    def __post_init__(self):
        if self.temperature <= 0:
            raise ConfigError("GRPO samples: --temperature must be > 0 (a greedy group has no spread)")
        if self.group_size < 2:
            raise ConfigError("--group-size must be >= 2: advantages are relative to the group")
        for name in ("steps", "items_per_step", "ppo_epochs", "micro_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.bf16 is None:
            self.bf16 = default_bf16()
        if self.fsdp and self.deepspeed:
            raise ConfigError("give --fsdp or --deepspeed, not both")
        if self.deepspeed and zero_stage(self.deepspeed) >= 3:
            raise ConfigError("GRPO with DeepSpeed ZeRO-3: its rollouts need whole weights on every process; "
                              "use --fsdp (gathers them for generation) or ZeRO-2")
        if check_engine(self.engine) != "hf" and self.fsdp:
            raise ConfigError(f"--engine {self.engine} with --fsdp: the engine takes whole weights, not FSDP "
                              "shards; use DDP or --deepspeed (ZeRO-1/2), or --engine hf")

    @classmethod
    def help_all_only(cls) -> set[str]:
        return set()  # all of GRPO's options are its own; the usage line is short all the same

    @property
    def output_dir(self) -> str:  # the Trainer stages' name for it
        return self.out


def rollout_seed(seed: int, step: int, place: int) -> int:
    return int(np.random.SeedSequence([seed, step, place]).generate_state(1)[0])


def step_items(items: list[dict], cfg: GRPOConfig, step: int, rank: int, world: int):
    """This process's items for `step` and the seed of each one's rollouts.

    Both are functions of (seed, step, place in the step's global batch) alone: resuming redraws
    the same, and one process with items_per_step = 2n draws what two processes with n draw.
    """
    rng = np.random.default_rng([cfg.seed, step])
    order = rng.permutation(len(items))
    picks = np.resize(order, cfg.items_per_step * world)  # wraps around when the set is smaller than a step
    places = range(rank * cfg.items_per_step, (rank + 1) * cfg.items_per_step)
    return [items[picks[i]] for i in places], [rollout_seed(cfg.seed, step, i) for i in places]


def save_checkpoint(accelerator, out: str, step: int) -> None:
    """Model, optimizer, the RNG states of every process and the step, atomically (`checkpoints`);
    under FSDP each process writes its shard of the model and optimizer."""
    name = f"{checkpoints.PREFIX}{step}"
    staging = checkpoints.begin(out, name, accelerator)
    accelerator.save_state(str(staging))
    checkpoints.crash_point(name)
    if accelerator.is_main_process:
        (staging / STATE_NAME).write_text(json.dumps({"step": step}) + "\n")
    checkpoints.commit(out, name, accelerator)


def load_checkpoint(accelerator, path: Path) -> int:
    """Restore a checkpoint strictly (any key that does not match is an error); returns its step."""
    try:
        accelerator.load_state(str(path))
    except (RuntimeError, OSError, ValueError) as exc:  # load_state_dict(strict=True) names the keys
        raise InputError(f"{path}: cannot resume from this checkpoint ({exc})") from None
    return json.loads((path / STATE_NAME).read_text())["step"]


def save_final(accelerator, model, processor, cfg, lora) -> None:
    """The trained policy in --out: gathered from the shards under FSDP (with LoRA, only the adapters:
    the base is --model's), merged into an ordinary checkpoint unless --lora-save adapters."""
    state_dict = None
    if accelerator.is_fsdp2:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=lora.enabled)
        state_dict = get_model_state_dict(model, options=options)
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(cfg.out, processor, state_dict=state_dict)
        if lora.enabled and lora.lora_save == "merged":
            export_merged(cfg.out, lambda merged, out: merged.save_pretrained(out))
        (Path(cfg.out) / "grpo_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    accelerator.wait_for_everyone()


def check_finite(accelerator, stats: dict, model, step: int) -> None:
    if not np.isfinite(stats["loss"]):
        raise TrainingError(f"training stopped at step {step}: the loss is not finite; nothing of this step "
                            f"was saved ({ADVICE})")
    check_weights(model.parameters(), accelerator, step)


def train_grpo(policy, processor, ref_policy, items, agent_config, cfg: GRPOConfig, media_root=None,
               on_step=None, reward_fn=None, lora=NO_LORA, engine=None):
    """The GRPO loop; returns the trained policy (unwrapped). Writes checkpoints, log and final model.

    `engine` (an `mmreward.engines.Engine`, e.g. vLLM; `--engine vllm` builds one in `main`)
    samples the rollouts: the policy's current weights are loaded into it before every step (as
    TRL's colocate mode and verl do); the loss's log-probs still come from the policy.

    `on_step(step, policy)`, if given, runs on the main process after each step is logged
    (e.g. a held-out evaluation); the policy's train/eval mode is restored afterwards.
    `reward_fn(trace, item) -> float` replaces the rule reward (`rollouts.collect`).
    `ref_policy`: the frozen KL reference (unused with LoRA: the policy with its adapters off).
    With LoRA the engine is given the weights with the adapters merged in (`lora.MergedWeights`).
    """
    prepare(policy, lora, cfg.seed)
    if cfg.activation_checkpointing:
        from mmreward.models.backbone import enable_checkpointing

        enable_checkpointing(policy)
    # log-probs of the distribution the rollouts are sampled from (logits / temperature)
    model = TokenLogprobs(policy, cfg.temperature)
    accelerator = sharding.accelerator_for(model, cfg.bf16, cfg.fsdp, cfg.fsdp_shard_size, cfg.deepspeed,
                                           cfg.micro_batch, cfg.max_grad_norm)
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    trained = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    ref = None
    if cfg.beta != 0 and not lora.enabled:
        ref = sharding.shard_frozen(accelerator, TokenLogprobs(ref_policy, cfg.temperature).requires_grad_(False))
        ref.eval()
    start = 0
    ckpt = checkpoints.resume_point(cfg.out, STATE_NAME, accelerator.is_main_process) if cfg.resume else None
    if ckpt is not None:
        start = load_checkpoint(accelerator, ckpt)
    if accelerator.is_main_process:
        trim_log(cfg.out, start, LOG_NAME)
    rollout_config = agent_config.__class__.from_dict(
        {**agent_config.to_dict(), "temperature": cfg.temperature, "top_p": cfg.top_p})
    stores = StoreCache(agent_config, media_root, size=64)
    pad_id = processor.tokenizer.pad_token_id
    rank, world = accelerator.process_index, accelerator.num_processes
    memory = {}

    def measure():
        if not memory:
            memory.update(sharding.measured_bytes(model, optimizer, bool(cfg.deepspeed)))

    for step in range(start, cfg.steps):
        t0 = time.time()
        policy_now = accelerator.unwrap_model(model).policy
        mine, seeds = step_items(items, cfg, step, rank, world)
        if engine is not None:  # whole weights on this process (no FSDP with an engine: GRPOConfig)
            engine.load_weights(MergedWeights(policy_now) if lora.enabled else policy_now)
        with sharding.gathered(model), accelerator.autocast():
            batch = collect(policy_now, processor, mine, cfg.group_size, rollout_config, media_root, cfg.alpha,
                            seeds, reward_fn, engine)
            t1 = time.time()
            examples = batch_examples(batch, processor, stores, agent_config.memory_window,
                                      skip_zero=cfg.beta == 0)
            batches = micro_batches(examples, pad_id, cfg.micro_batch, accelerator.device)
            # with one pass the policy before the update *is* the rollout policy: `update` uses its
            # own log-probs, detached, and saves a forward
            old = frozen_logprobs(model, batches) if cfg.ppo_epochs > 1 else [None] * len(batches)
            ref_lp = [None] * len(batches)
            if cfg.beta != 0 and lora.enabled:
                with adapters_disabled(policy_now):
                    ref_lp = frozen_logprobs(model, batches)
        if ref is not None:
            with sharding.gathered(ref), accelerator.autocast():
                ref_lp = frozen_logprobs(ref, batches)
        stats = dict(batch.stats)

        def spare():  # a sequence of this process's own rollouts, for the passes it adds (`update`)
            first = batch.traces[0]
            ex = encode_trace_turn(first, 0, processor, stores.get(first.videos), agent_config.memory_window)
            return micro_batches([ex], pad_id, 1, accelerator.device)[0]

        advantages = batch.advantages.flatten().to(accelerator.device)
        stats.update(update(accelerator, model, optimizer, batches, old, ref_lp, advantages, cfg, spare,
                            on_stepped=measure))
        stats = {k: float(accelerator.reduce(torch.tensor(float(v), device=accelerator.device), "mean"))
                 for k, v in stats.items()}
        check_finite(accelerator, stats, model, step + 1)
        record = {"step": step + 1, **{k: round(v, 5) for k, v in stats.items()},
                  "rollout_s": round(t1 - t0, 2), "update_s": round(time.time() - t1, 2)}
        if accelerator.is_main_process:
            print(json.dumps(record), flush=True)
            append_log(cfg.out, record, LOG_NAME)
        if on_step is not None:
            with sharding.gathered(model):  # under FSDP every process gathers, the main one evaluates
                if accelerator.is_main_process:
                    was_training = policy_now.training
                    on_step(step + 1, policy_now)
                    policy_now.train(was_training)
        if cfg.save_steps and ((step + 1) % cfg.save_steps == 0 or step + 1 == cfg.steps):
            save_checkpoint(accelerator, cfg.out, step + 1)
    accelerator.wait_for_everyone()
    save_final(accelerator, model, processor, cfg, lora)
    from accelerate.utils import gather_object

    memory_per_process = gather_object([memory or None])
    if accelerator.is_main_process:
        write_summary(cfg.out, {"steps": cfg.steps, "log": read_log(cfg.out, LOG_NAME),
                                "memory_per_process": memory_per_process})
    stores.close()
    return accelerator.unwrap_model(model).policy


def main(model, data, agent, cfg: GRPOConfig, lora=NO_LORA) -> int:
    """`model`: TrainModelOptions, `data`: ItemsData, `agent`: AgentOptions, `lora`: LoraOptions."""
    agent_config = agent.to_config()
    items = read_items(data.items)
    policy, processor = load_policy(model)
    ref = load_policy(model, cfg.ref_model or model.model)[0] if cfg.beta != 0 and not lora.enabled else None
    engine = rollout_engine(cfg.engine, policy, processor, model.model, cfg.vllm_gpu_memory_utilization)
    try:
        train_grpo(policy, processor, ref, items, agent_config, cfg, default_media_root(data.items, data.media_root),
                   lora=lora, engine=engine)
    finally:
        if engine is not None:
            engine.close()
    return 0


def rollout_engine(name: str, policy, processor, model: str, gpu_memory_utilization: float = 0.3):
    """None for the HF engine (the policy samples), else a vLLM engine on the checkpoint `model` (an
    adapter directory: its base with the adapters merged in, as the policy was loaded)."""
    if name == "hf":
        return None
    from mmreward.engines.vllm import VLLMEngine, VLLMOptions, checkpoint_and_adapters
    from mmreward.models.backbone import resolve_name

    base, adapters = checkpoint_and_adapters(resolve_name(model))
    dtype = str(policy.dtype).removeprefix("torch.")
    engine = VLLMEngine(base, processor, VLLMOptions(dtype=dtype, gpu_memory_utilization=gpu_memory_utilization))
    if adapters:  # the policy holds them merged already: no second read and merge from disk
        engine.load_weights(policy)
    return engine
