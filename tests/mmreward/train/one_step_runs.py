"""One optimizer step of each stage over a fixed global batch, in however many processes run this:
`python one_step_runs.py WORK` or `torchrun --nproc_per_node 2 one_step_runs.py WORK [--deepspeed]`.
test_two_processes.py compares the weights.

WORK holds pairs/ (synthetic image pairs) and clips/ (two videos). The runs write WORK/<stage> under
DDP (bt, grpo) and WORK/fsdp-<stage> under FSDP2 (bt, yes-token, traces, grpo); with --deepspeed
instead WORK/zero3-<stage> under DeepSpeed ZeRO-3 (bt, yes-token, traces) and WORK/zero2-<stage> under
ZeRO-2 (bt, grpo: its rollouts need whole weights). In one process there is nothing to shard and each
stage runs once, into WORK/<stage>. The global batch: 4 pairs for bt and yes-token, 4 turn sequences
for traces SFT, 4 items x G=2 rollouts for GRPO, split over the processes.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # agent_fixtures, when run as a script
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PAIRS_PER_STEP = 4
ITEMS_PER_STEP = 4
TURNS_PER_STEP = 4
# SGD: the step is lr x the gradient, so the weights show the gradient average itself (Adam's
# first step is about lr x sign(gradient), which flips on rounding where a gradient is ~0)
SGD = ["--optim", "sgd", "--lr", "0.1", "--warmup-ratio", "0", "--save-steps", "1000", "--logging-steps", "1"]


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def out_dir(work: Path, stage: str, sharding: str | None) -> Path:
    """sharding: None (DDP, or one process), "fsdp", "zero2" or "zero3"."""
    return work / (f"{sharding}-{stage}" if sharding and world_size() > 1 else stage)


def deepspeed_config(work: Path, sharding: str | None) -> str | None:
    """The JSON config of a ZeRO stage, the batch options left to the Trainer ("auto")."""
    if not (sharding or "").startswith("zero"):
        return None
    path = work / f"{sharding}.json"
    path.write_text(json.dumps({"zero_optimization": {"stage": int(sharding[-1])}, "train_batch_size": "auto",
                                "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto"}))
    return str(path)


def sharding_flags(work: Path, sharding: str | None) -> list[str]:
    if sharding == "fsdp":
        return ["--fsdp"]
    return ["--deepspeed", deepspeed_config(work, sharding)] if sharding else []


def preference_step(work: Path, stage: list[str], name: str, sharding: str | None = None) -> None:
    from mmreward.cli import main

    rc = main(["train", *stage, "--data", str(work / "pairs" / "pairs.jsonl"), "--media-root", str(work / "pairs"),
               "--out", str(out_dir(work, name, sharding)), "--batch-size", str(PAIRS_PER_STEP // world_size()),
               "--max-steps", "1", *SGD, *sharding_flags(work, sharding)])
    assert rc == 0


def bt_step(work: Path, sharding: str | None = None) -> None:
    preference_step(work, ["bt"], "bt", sharding)


def yes_token_step(work: Path, sharding: str | None = None) -> None:
    preference_step(work, ["sft", "--objective", "yes-token", "--form", "pointwise"], "yes-token", sharding)


def traces_step(work: Path, sharding: str | None = None) -> None:
    from agent_fixtures import CONFIG, scripted, tiny
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces

    traces = [scripted(["clip0.mp4", "clip1.mp4"], id=f"t{i}") for i in range(2)]  # 6 turn sequences
    policy, processor = tiny()
    cfg = TraceSFTConfig(output_dir=str(out_dir(work, "traces", sharding)), max_steps=1, optim="sgd",
                         per_device_train_batch_size=TURNS_PER_STEP // world_size(), learning_rate=0.1,
                         warmup_steps=0.0, save_steps=1000, logging_steps=1, fsdp=sharding == "fsdp",
                         deepspeed=deepspeed_config(work, sharding))
    train_on_traces(traces, policy, processor, CONFIG, cfg, media_root=str(work / "clips"))


def planted_reward(trace, item) -> float:
    """Item 'flat': the same reward for every rollout (its group teaches nothing and, with beta 0, is
    skipped: the process holding it has fewer sequences and adds passes). The others: a reward that
    differs between rollouts (a function of the sampled tokens)."""
    if item["id"] == "flat":
        return 1.0
    return sum(t for turn in trace.turn_token_ids for t in turn) % 997 / 997


def grpo_step(work: Path, sharding: str | None = None) -> None:
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    items = [{"id": name, "prompt": "a ball rolls", "videos": ["clip0.mp4", "clip1.mp4"], "labels": LABELS}
             for name in ("a", "b", "c", "flat")]
    policy, processor = tiny()
    policy.train()
    cfg = GRPOConfig(out=str(out_dir(work, "grpo", sharding)), steps=1, items_per_step=ITEMS_PER_STEP // world_size(),
                     group_size=2, micro_batch=1, lr=1e-3, beta=0.0, save_steps=1, fsdp=sharding == "fsdp",
                     deepspeed=deepspeed_config(work, sharding))
    train_grpo(policy, processor, None, items, agent_cfg, cfg, media_root=str(work / "clips"),
               reward_fn=planted_reward)


STAGES = {"bt": bt_step, "yes-token": yes_token_step, "traces": traces_step, "grpo": grpo_step}
DDP_STAGES = ("bt", "grpo")
ZERO_STAGES = {"zero3": ("bt", "yes-token", "traces"), "zero2": ("bt", "grpo")}

if __name__ == "__main__":
    work = Path(sys.argv[1])
    if sys.argv[2:] == ["--deepspeed"]:
        for zero, names in ZERO_STAGES.items():
            for name in names:
                STAGES[name](work, zero)
    else:
        for name in DDP_STAGES:
            STAGES[name](work)
        for step in STAGES.values():
            step(work, "fsdp")
