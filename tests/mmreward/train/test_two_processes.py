"""Two CPU processes (torchrun over gloo) take the optimizer step one process takes over the same
global batch, weights equal to 1e-5: DDP for `train bt` (through the Trainer) and GRPO (no_sync
micro-batches, padded backward passes); FSDP2 (`--fsdp`) for bt, yes-token SFT, traces SFT and GRPO,
where each process also holds about half of the parameters, gradients and optimizer state (measured
after the step), exactly what `--plan` predicts for the first process; DeepSpeed (its CPU
accelerator) ZeRO-3 for bt, yes-token SFT and traces SFT, each process holding half of the weights,
and ZeRO-2 for bt and GRPO, each holding half of Adam's moments. See one_step_runs.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

import one_step_runs

TOLERANCE = 1e-5
FILES = {"bt": ("model.safetensors", "reward_head.safetensors"), "yes-token": ("model.safetensors",),
         "traces": ("model.safetensors",), "grpo": ("model.safetensors",)}


def workspace(root: Path) -> Path:
    from agent_fixtures import write_clips
    from mmreward.synth.images import make_image_pairs

    (root / "clips").mkdir(parents=True)
    write_clips(root / "clips")
    make_image_pairs(root / "pairs", 8, seed=11, size=56, differ="colour")
    return root


def max_difference(a: Path, b: Path) -> float:
    x, y = load_file(str(a)), load_file(str(b))
    assert x.keys() == y.keys()
    return max(float((x[k] - y[k]).abs().max()) for k in x)


def memory(run: Path) -> list[dict]:
    return json.loads((run / "train_summary.json").read_text())["memory_per_process"]


def planned(capsys, *args: str) -> dict:
    from mmreward.cli import main

    capsys.readouterr()
    assert main(["train", *args, "--plan", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def launch(work: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", one_step_runs.__file__, str(work),
         *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


def finish(launched: subprocess.Popen) -> None:
    output, _ = launched.communicate(timeout=900)
    assert launched.returncode == 0, output[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(one process, two processes): every stage's step in each."""
    root = tmp_path_factory.mktemp("steps")
    two = workspace(root / "two")
    launched = launch(two)
    one = workspace(root / "one")  # the reference, here, while the two processes run
    for step in one_step_runs.STAGES.values():
        step(one)
    finish(launched)
    return one, two


@pytest.fixture(scope="module")
def zero_runs(runs, tmp_path_factory):
    """The two processes under DeepSpeed ZeRO-3 and ZeRO-2 (one_step_runs.ZERO_STAGES)."""
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (.ci/setup installs it)")
    work = workspace(tmp_path_factory.mktemp("zero") / "two")
    finish(launch(work, "--deepspeed"))
    return runs[0], work


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_ddp_processes_take_the_step_of_one_process_over_the_global_batch(runs, tiny_dir):
    one, two = runs
    for stage in one_step_runs.DDP_STAGES:
        for name in FILES[stage]:
            assert max_difference(one / stage / name, two / stage / name) <= TOLERANCE, (stage, name)
        # and the step did move the weights (a step of zero would be equal everywhere)
        assert max_difference(one / stage / "model.safetensors", tiny_dir / "model.safetensors") > 5e-4
    # GRPO in two processes: one process logs, the checkpoint is committed whole
    log = [json.loads(x) for x in (two / "grpo" / "grpo_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1]
    single = json.loads((one / "grpo" / "grpo_log.jsonl").read_text())
    assert log[0]["tokens"] * 2 == single["tokens"]  # the mean per process: the batch was split
    assert log[0]["loss"] == pytest.approx(single["loss"], abs=1e-6)
    assert (two / "grpo" / "checkpoint-1" / "grpo_state.json").is_file()
    assert not (two / "grpo" / ".incomplete").exists()


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("stage", list(one_step_runs.STAGES))
def test_two_fsdp_processes_take_the_step_of_one_process_and_hold_half_of_it(runs, stage, tiny_dir):
    one, two = runs
    sharded = two / f"fsdp-{stage}"
    for name in FILES[stage]:  # the final model, gathered from the shards into an ordinary checkpoint
        assert max_difference(one / stage / name, sharded / name) <= TOLERANCE, (stage, name)
    assert max_difference(one / stage / "model.safetensors", tiny_dir / "model.safetensors") > 5e-4
    whole, halves = memory(one / stage)[0], memory(sharded)
    for part in ("params_bytes", "grads_bytes", "optimizer_bytes"):
        assert sum(h[part] for h in halves) == whole[part], part  # nothing held twice, nothing lost
        for held in halves:
            assert held[part] == pytest.approx(whole[part] / 2, rel=0.01), (part, halves)
    if stage == "grpo":  # AdamW: its two moments, sharded like the weights
        assert whole["optimizer_bytes"] == 2 * whole["params_bytes"] > 0


@pytest.mark.slow
@pytest.mark.multiprocess
def test_the_plan_predicts_what_each_process_holds(runs, capsys):
    one, two = runs
    pairs = ["--data", "unused.jsonl", "--out", "unused"]
    items = ["--items", "unused.jsonl", "--out", "unused", "--beta", "0"]
    cases = [(["bt", *pairs, "--optim", "sgd"], one / "bt", 1, []),
             (["bt", *pairs, "--optim", "sgd"], two / "fsdp-bt", 2, ["--fsdp"]),
             (["grpo", *items], one / "grpo", 1, []),
             (["grpo", *items], two / "fsdp-grpo", 2, ["--fsdp"])]
    for args, run, gpus, sharding in cases:
        plan = planned(capsys, *args, "--plan-gpus", str(gpus), *sharding)
        held = memory(run)[0]  # the first process: the largest shard, which the plan reports
        assert {k: plan[k] for k in held} == held, (args, sharding)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("zero,stage", [(z, s) for z, names in one_step_runs.ZERO_STAGES.items() for s in names])
def test_two_deepspeed_processes_take_the_step_of_one_process_and_hold_half_of_it(zero_runs, zero, stage, tiny_dir):
    one, two = zero_runs
    sharded = two / f"{zero}-{stage}"
    for name in FILES[stage]:  # an ordinary checkpoint, its weights gathered from the partitions under ZeRO-3
        assert max_difference(one / stage / name, sharded / name) <= TOLERANCE, (zero, stage, name)
    assert max_difference(one / stage / "model.safetensors", tiny_dir / "model.safetensors") > 5e-4
    whole, halves = memory(one / stage)[0], memory(sharded)
    assert all(h["grads_bytes"] is None for h in halves)  # in ZeRO's buffers, not measured
    if zero == "zero2":  # the weights whole on each process, the optimizer state partitioned
        assert all(h["params_bytes"] == whole["params_bytes"] for h in halves)
    # ZeRO-3: the weights partitioned (each partition padded to a whole number of elements); ZeRO-2:
    # Adam's moments (GRPO; bt steps with SGD, which keeps no state)
    part = "params_bytes" if zero == "zero3" else "optimizer_bytes"
    if zero == "zero2" and stage == "bt":
        assert whole[part] == 0 and all(h[part] == 0 for h in halves)
        return
    assert whole[part] > 0
    for held in halves:
        assert held[part] == pytest.approx(whole[part] / 2, rel=0.01), (part, halves)
