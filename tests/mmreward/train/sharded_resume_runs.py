"""`train bt --fsdp` in the processes that run this (`torchrun --nproc_per_node 2 sharded_resume_runs.py
WORK [--deepspeed]`; with --deepspeed, DeepSpeed ZeRO-3 instead): WORK/whole runs 2 steps uninterrupted; WORK/cut is stopped in the middle of writing
checkpoint 2 (after every process wrote its shard of the model and optimizer, before the Trainer's
state that completes the checkpoint), then resumed. test_sharded_resume.py compares the two.

The stop is an exception at the crash point on every process (as test_train_resume.py does for the
in-process stages): a real SIGKILL of torchrun's workers lands at that same point and leaves the
same files, and the in-process stop lets one launch run all three runs.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class Killed(BaseException):
    """Stands for SIGKILL: nothing on the way catches a BaseException."""


def args(work: Path, out: str, sharding: list[str]) -> list[str]:
    # 4 pairs, 2 a step over the two processes: 2 steps, a checkpoint after each; AdamW, so the
    # optimizer's sharded moments must come back too
    return ["train", "bt", "--data", str(work / "pairs" / "pairs.jsonl"), "--media-root", str(work / "pairs"),
            "--out", str(work / out), "--batch-size", "1", "--max-steps", "2", "--save-steps", "1", "--lr", "1e-3",
            "--logging-steps", "1", *sharding]


def crash_at(name: str):
    def crash(point: str) -> None:
        if point == name:
            raise Killed(point)
    return crash


if __name__ == "__main__":
    from mmreward.cli import main
    from mmreward.train import checkpoints
    from one_step_runs import sharding_flags  # (this script's folder is on sys.path)

    work = Path(sys.argv[1])
    sharding = sharding_flags(work, "zero3" if sys.argv[2:] == ["--deepspeed"] else "fsdp")
    assert main(args(work, "whole", sharding)) == 0
    real = checkpoints.crash_point
    checkpoints.crash_point = crash_at("checkpoint-2")
    try:
        main(args(work, "cut", sharding))
        raise AssertionError("the run was not stopped")
    except Killed:
        pass
    checkpoints.crash_point = real
    if int(os.environ.get("RANK", "0")) == 0:
        staging = work / "cut" / checkpoints.STAGING / "checkpoint-2"
        (work / "left_by_the_stop.json").write_text(json.dumps(sorted(p.name for p in staging.iterdir())))
    assert main(args(work, "cut", sharding) + ["--resume"]) == 0
