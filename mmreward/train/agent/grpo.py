"""GRPO for the video agent on multi-turn rollouts (`mmreward train grpo`).

Recipe, one optimiser step at a time:
  1. collect: G rollouts per item with the current policy (`agent.loop.rollout_batch`, sampling),
     seeded by (seed, step, the item's place in the step): the same on resume, and the same
     whatever the number of processes;
  2. score: reward = format + accuracy (alpha * overall + (1 - alpha) * mean over dimensions),
     advantages normalised within each group (`grpo_loss.group_advantages`);
  3. sequences: every assistant turn of every rollout, in the context it was written in
     (memory window as at inference), loss only on the model's own tokens (`agent_data`);
  4. old log-probs (policy before the update) and reference log-probs (frozen model), no grad;
  5. update: --ppo-epochs passes of the clipped-ratio loss + beta * k3 KL (`grpo_loss.grpo_loss`).
Processes: DDP under accelerate; each process rolls out its own items and DDP averages the
gradients (`update`). Precision: bf16 autocast over fp32 master weights where a GPU supports it
(`--bf16`). FSDP and DeepSpeed are refused. An atomic checkpoint (model, optimizer, RNG, step)
every --save-steps and at the end; --resume continues from the newest complete one. Logs go to
stdout and <out>/grpo_log.jsonl.
"""
from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mmreward.engines import check_engine
from mmreward.errors import ConfigError, InputError
from mmreward.launch import cpu_only
from mmreward.train import checkpoints
from mmreward.train.agent.common import StoreCache, default_media_root, load_policy, read_items
from mmreward.train.agent.data import collate_turns, encode_trace_turn
from mmreward.train.agent.logprobs import TokenLogprobs
from mmreward.train.common import BF16_HELP, default_bf16, refuse_sharding
from mmreward.train.objectives import grpo_loss
from mmreward.train.agent.rollouts import batch_examples, collect

STATE_NAME = "grpo_state.json"  # the step; written last into a checkpoint


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
    resume: bool = field(default=False, metadata={
        "help": "continue from the newest complete checkpoint in --out (incomplete ones are skipped)"})

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
        check_engine(self.engine)


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


@torch.no_grad()
def frozen_logprobs(module, batches: list[dict]) -> list[torch.Tensor]:
    return [module(**b)["logp"].detach() for b in batches]


def update(accelerator, model, optimizer, batches, old, ref, advantages, cfg: GRPOConfig, spare) -> dict:
    """--ppo-epochs optimiser steps over the micro-batches of one rollout batch.

    DDP averages the gradients: the micro-batches accumulate under `no_sync` and the last backward
    pass all-reduces them (bucketed). DDP needs the same number of backward passes on every
    process, but processes hold different numbers of micro-batches (rollouts differ in length,
    and groups that taught nothing are skipped), so the shorter ones add passes whose loss is
    multiplied by 0 (over one of their own micro-batches, or `spare()` when they have none).
    Each loss is normalised by the token count of the step over all processes, times the process
    count (DDP divides by it): the step is the one a single process would take on the global batch.
    """
    local = torch.tensor([[sum(int(b["labels"][:, 1:].ne(-100).sum()) for b in batches), len(batches)]],
                         device=accelerator.device)
    counts = accelerator.gather(local)  # [processes, 2]
    all_tokens, passes = int(counts[:, 0].sum()), int(counts[:, 1].max())
    totals = {"loss": 0.0, "policy_loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "tokens": float(local[0, 0])}
    if all_tokens == 0:  # no process has a token to learn from: leave the weights and Adam's moments alone
        return totals
    world = accelerator.num_processes
    filler = batches[0] if batches else (spare() if passes else None)
    for _ in range(cfg.ppo_epochs):
        optimizer.zero_grad()
        for i in range(passes):
            real = i < len(batches)
            b, o, r = (batches[i], old[i], ref[i]) if real else (filler, None, None)
            with accelerator.no_sync(model) if i < passes - 1 else nullcontext():
                out = model(**b)
                o = out["logp"].detach() if o is None else o  # one pass: the rollout policy is this one
                parts = grpo_loss(out["logp"], o, r, advantages[b["trace_index"]], out["mask"],
                                  cfg.clip_eps, cfg.beta, num_tokens=all_tokens / world)
                accelerator.backward(parts.loss if real else parts.loss * 0.0)
            if real:  # token-weighted means over the step; their mean over processes is the global one
                share = float(out["mask"].sum()) * world / all_tokens / cfg.ppo_epochs
                totals["loss"] += float(parts.loss.detach()) / cfg.ppo_epochs
                for k in ("policy_loss", "kl", "clip_fraction"):
                    totals[k] += float(getattr(parts, k)) * share
        if cfg.max_grad_norm:
            accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        optimizer.step()
    return totals


def micro_batches(examples, pad_id: int, size: int, device) -> list[dict]:
    out = []
    for i in range(0, len(examples), size):
        b = collate_turns(examples[i:i + size], pad_id)
        out.append({k: v.to(device) for k, v in b.items()})
    return out


def save_checkpoint(accelerator, out: str, step: int) -> None:
    """Model, optimizer, the RNG states of every process and the step, atomically (`checkpoints`)."""
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
    except (RuntimeError, OSError) as exc:  # load_state_dict(strict=True) names the keys
        raise InputError(f"{path}: cannot resume from this checkpoint ({exc})") from None
    return json.loads((path / STATE_NAME).read_text())["step"]


def log_line(out: str, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with open(Path(out) / "grpo_log.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def trim_log(out: str, last_step: int) -> None:
    """Drop the log lines of steps after `last_step`: a resumed run redoes them."""
    path = Path(out) / "grpo_log.jsonl"
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(x for x in lines if json.loads(x)["step"] <= last_step), encoding="utf-8")


def train_grpo(policy, processor, ref_policy, items, agent_config, cfg: GRPOConfig, media_root=None,
               on_step=None, reward_fn=None, engine=None):
    """The GRPO loop; returns the trained policy (unwrapped). Writes checkpoints, log and final model.

    `engine` (an `mmreward.engines.Engine`, e.g. vLLM; `--engine vllm` builds one in `main`)
    samples the rollouts: the policy's current weights are loaded into it before every step (as
    TRL's colocate mode and verl do); the loss's log-probs still come from the policy.

    `on_step(step, policy)`, if given, runs on the main process after each step is logged
    (e.g. a held-out evaluation); the policy's train/eval mode is restored afterwards.
    `reward_fn(trace, item) -> float` replaces the rule reward (`grpo_rollouts.collect`).
    """
    from accelerate import Accelerator

    refuse_sharding("grpo")
    accelerator = Accelerator(cpu=cpu_only(), mixed_precision="bf16" if cfg.bf16 else "no")
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    # log-probs of the distribution the rollouts are sampled from (logits / temperature)
    model = TokenLogprobs(policy, cfg.temperature)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    ref = None
    if cfg.beta != 0:
        ref = TokenLogprobs(ref_policy, cfg.temperature).to(accelerator.device).eval()
        ref.requires_grad_(False)
    start = 0
    ckpt = checkpoints.resume_point(cfg.out, STATE_NAME, accelerator.is_main_process) if cfg.resume else None
    if ckpt is not None:
        start = load_checkpoint(accelerator, ckpt)
        if accelerator.is_main_process:
            trim_log(cfg.out, start)
    rollout_config = agent_config.__class__.from_dict(
        {**agent_config.to_dict(), "temperature": cfg.temperature, "top_p": cfg.top_p})
    stores = StoreCache(agent_config, media_root, size=64)
    pad_id = processor.tokenizer.pad_token_id
    rank, world = accelerator.process_index, accelerator.num_processes
    for step in range(start, cfg.steps):
        t0 = time.time()
        policy_now = accelerator.unwrap_model(model).policy
        mine, seeds = step_items(items, cfg, step, rank, world)
        if engine is not None:
            engine.load_weights(policy_now)
        with accelerator.autocast():
            batch = collect(policy_now, processor, mine, cfg.group_size, rollout_config, media_root, cfg.alpha,
                            seeds, reward_fn, engine)
        t1 = time.time()
        examples = batch_examples(batch, processor, stores, agent_config.memory_window,
                                  skip_zero=cfg.beta == 0)
        stats = dict(batch.stats)
        batches = micro_batches(examples, pad_id, cfg.micro_batch, accelerator.device)
        with accelerator.autocast():
            # with one pass the policy before the update *is* the rollout policy: `update` uses its
            # own log-probs, detached, and saves a forward
            old = frozen_logprobs(model, batches) if cfg.ppo_epochs > 1 else [None] * len(batches)
            ref_lp = frozen_logprobs(ref, batches) if ref is not None else [None] * len(batches)

        def spare():  # a sequence of this process's own rollouts, for the passes it adds (`update`)
            first = batch.traces[0]
            ex = encode_trace_turn(first, 0, processor, stores.get(first.videos), agent_config.memory_window)
            return micro_batches([ex], pad_id, 1, accelerator.device)[0]

        advantages = batch.advantages.flatten().to(accelerator.device)
        stats.update(update(accelerator, model, optimizer, batches, old, ref_lp, advantages, cfg, spare))
        stats = {k: float(accelerator.reduce(torch.tensor(float(v), device=accelerator.device), "mean"))
                 for k, v in stats.items()}
        record = {"step": step + 1, **{k: round(v, 5) for k, v in stats.items()},
                  "rollout_s": round(t1 - t0, 2), "update_s": round(time.time() - t1, 2)}
        if accelerator.is_main_process:
            log_line(cfg.out, record)
            if on_step is not None:
                was_training = policy_now.training
                on_step(step + 1, policy_now)
                policy_now.train(was_training)
        if cfg.save_steps and ((step + 1) % cfg.save_steps == 0 or step + 1 == cfg.steps):
            save_checkpoint(accelerator, cfg.out, step + 1)
    accelerator.wait_for_everyone()
    final = accelerator.unwrap_model(model).policy
    if accelerator.is_main_process:
        final.save_pretrained(cfg.out)
        processor.save_pretrained(cfg.out)
        (Path(cfg.out) / "grpo_config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    stores.close()
    return final


def main(model, data, agent, cfg: GRPOConfig) -> int:
    """`model`: TrainModelOptions, `data`: ItemsData, `agent`: AgentOptions."""
    refuse_sharding("grpo")  # before minutes of loading
    agent_config = agent.to_config()
    items = read_items(data.items)
    policy, processor = load_policy(model)
    ref = load_policy(model, cfg.ref_model or model.model)[0] if cfg.beta != 0 else None
    engine = rollout_engine(cfg.engine, policy, processor, model.model, cfg.vllm_gpu_memory_utilization)
    try:
        train_grpo(policy, processor, ref, items, agent_config, cfg, default_media_root(data.items, data.media_root),
                   engine=engine)
    finally:
        if engine is not None:
            engine.close()
    return 0


def rollout_engine(name: str, policy, processor, model: str, gpu_memory_utilization: float = 0.3):
    """None for the HF engine (the policy samples), else a vLLM engine on the checkpoint `model`."""
    if name == "hf":
        return None
    from mmreward.engines.vllm import VLLMEngine, VLLMOptions
    from mmreward.models.backbone import resolve_name

    dtype = str(policy.dtype).removeprefix("torch.")
    return VLLMEngine(resolve_name(model), processor, VLLMOptions(dtype=dtype,
                                                                  gpu_memory_utilization=gpu_memory_utilization))
