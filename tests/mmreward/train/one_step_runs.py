"""One optimizer step of each stage over a fixed global batch, in however many processes run this:
`python one_step_runs.py WORK` or `torchrun --nproc_per_node 2 one_step_runs.py WORK [--fsdp-only]`.
test_two_processes.py compares the weights.

WORK holds pairs/ (synthetic image pairs) and clips/ (two videos). The runs write WORK/<stage> under
DDP (bt, grpo) and WORK/fsdp-<stage> under FSDP2 (bt, yes-token, traces, grpo); in one process
there is nothing to shard and each stage runs once, into WORK/<stage>. The global batch: 4 pairs for
bt and yes-token, 4 turn sequences for traces SFT, 4 items x G=2 rollouts for GRPO, split over the
processes.
"""
from __future__ import annotations

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


def out_dir(work: Path, stage: str, fsdp: bool) -> Path:
    return work / (f"fsdp-{stage}" if fsdp and world_size() > 1 else stage)


def preference_step(work: Path, stage: list[str], name: str, fsdp: bool = False) -> None:
    from mmreward.cli import main

    rc = main(["train", *stage, "--data", str(work / "pairs" / "pairs.jsonl"), "--media-root", str(work / "pairs"),
               "--out", str(out_dir(work, name, fsdp)), "--batch-size", str(PAIRS_PER_STEP // world_size()),
               "--max-steps", "1", *SGD, *(["--fsdp"] if fsdp else [])])
    assert rc == 0


def bt_step(work: Path, fsdp: bool = False) -> None:
    preference_step(work, ["bt"], "bt", fsdp)


def yes_token_step(work: Path, fsdp: bool = False) -> None:
    preference_step(work, ["sft", "--objective", "yes-token", "--form", "pointwise"], "yes-token", fsdp)


def traces_step(work: Path, fsdp: bool = False) -> None:
    from agent_fixtures import CONFIG, scripted, tiny
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces

    traces = [scripted(["clip0.mp4", "clip1.mp4"], id=f"t{i}") for i in range(2)]  # 6 turn sequences
    policy, processor = tiny()
    cfg = TraceSFTConfig(output_dir=str(out_dir(work, "traces", fsdp)), max_steps=1, optim="sgd",
                         per_device_train_batch_size=TURNS_PER_STEP // world_size(), learning_rate=0.1,
                         warmup_steps=0.0, save_steps=1000, logging_steps=1, fsdp=fsdp)
    train_on_traces(traces, policy, processor, CONFIG, cfg, media_root=str(work / "clips"))


def planted_reward(trace, item) -> float:
    """Item 'flat': the same reward for every rollout (its group teaches nothing and, with beta 0, is
    skipped: the process holding it has fewer sequences and adds passes). The others: a reward that
    differs between rollouts (a function of the sampled tokens)."""
    if item["id"] == "flat":
        return 1.0
    return sum(t for turn in trace.turn_token_ids for t in turn) % 997 / 997


def grpo_step(work: Path, fsdp: bool = False) -> None:
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    items = [{"id": name, "prompt": "a ball rolls", "videos": ["clip0.mp4", "clip1.mp4"], "labels": LABELS}
             for name in ("a", "b", "c", "flat")]
    policy, processor = tiny()
    policy.train()
    cfg = GRPOConfig(out=str(out_dir(work, "grpo", fsdp)), steps=1, items_per_step=ITEMS_PER_STEP // world_size(),
                     group_size=2, micro_batch=1, lr=1e-3, beta=0.0, save_steps=1, fsdp=fsdp)
    train_grpo(policy, processor, None, items, agent_cfg, cfg, media_root=str(work / "clips"),
               reward_fn=planted_reward)


STAGES = {"bt": bt_step, "yes-token": yes_token_step, "traces": traces_step, "grpo": grpo_step}
DDP_STAGES = ("bt", "grpo")

if __name__ == "__main__":
    work = Path(sys.argv[1])
    for name in DDP_STAGES:
        STAGES[name](work)
    for step in STAGES.values():
        step(work, fsdp=True)
