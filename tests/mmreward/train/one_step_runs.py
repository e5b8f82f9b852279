"""One optimizer step of `train bt` (through the CLI) and of GRPO (planted rewards) over a fixed
global batch, in however many processes run this: `python one_step_runs.py WORK` or
`torchrun --nproc_per_node 2 one_step_runs.py WORK`. test_two_processes.py compares the weights.

WORK holds pairs/ (synthetic image pairs) and clips/ (two videos); the runs write WORK/bt and
WORK/grpo. The global batch: 4 pairs for bt, 4 items x G=2 rollouts for GRPO, split over the
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


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def bt_step(work: Path) -> None:
    from mmreward.cli import main

    rc = main(["train", "bt", "--data", str(work / "pairs" / "pairs.jsonl"), "--media-root", str(work / "pairs"),
               "--out", str(work / "bt"), "--batch-size", str(PAIRS_PER_STEP // world_size()), "--max-steps", "1",
               # SGD: the step is lr x the gradient, so the weights show the gradient average itself (Adam's
               # first step is about lr x sign(gradient), which flips on rounding where a gradient is ~0)
               "--optim", "sgd", "--lr", "0.1", "--warmup-ratio", "0", "--save-steps", "1000",
               "--logging-steps", "1"])
    assert rc == 0


def planted_reward(trace, item) -> float:
    """Item 'flat': the same reward for every rollout (its group teaches nothing and, with beta 0, is
    skipped: the process holding it has fewer sequences and adds passes). The others: a reward that
    differs between rollouts (a function of the sampled tokens)."""
    if item["id"] == "flat":
        return 1.0
    return sum(t for turn in trace.turn_token_ids for t in turn) % 997 / 997


def grpo_step(work: Path) -> None:
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    items = [{"id": name, "prompt": "a ball rolls", "videos": ["clip0.mp4", "clip1.mp4"], "labels": LABELS}
             for name in ("a", "b", "c", "flat")]
    policy, processor = tiny()
    policy.train()
    cfg = GRPOConfig(out=str(work / "grpo"), steps=1, items_per_step=ITEMS_PER_STEP // world_size(), group_size=2,
                     micro_batch=1, lr=1e-3, beta=0.0, save_steps=1)
    train_grpo(policy, processor, None, items, agent_cfg, cfg, media_root=str(work / "clips"),
               reward_fn=planted_reward)


if __name__ == "__main__":
    work = Path(sys.argv[1])
    bt_step(work)
    grpo_step(work)
