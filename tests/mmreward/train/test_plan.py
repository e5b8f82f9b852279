"""`mmreward train STAGE ... --plan` on the released Qwen2.5-VL-7B-Instruct and Qwen2-VL-2B-Instruct
configurations (config.json only, data/README.md says where the values come from): what fits one
80 GB GPU and what does not. (That its parameter, gradient and optimizer bytes equal what a run holds
is checked on the tiny model in test_two_processes.py and test_lora.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmreward.cli import main

DATA = Path(__file__).parent / "data"
QWEN25_7B = str(DATA / "qwen2.5-vl-7b-instruct")
QWEN2_2B = str(DATA / "qwen2-vl-2b-instruct")
GB = 1e9


def plan(capsys, stage: list[str], model: str, *args: str) -> dict:
    capsys.readouterr()
    assert main(["train", *stage, "--model", model, "--out", "unused", "--bf16",
                 "--plan", "--format", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


BT = ["bt", "--data", "unused.jsonl", "--batch-size", "1"]


@pytest.mark.slow
def test_a_7b_judge_needs_fsdp_or_lora_on_80gb_gpus(capsys):
    full = plan(capsys, BT, QWEN25_7B, "--plan-gpus", "1")
    assert full["parameters"] == 8_292_166_656 + 3584 * 3584 + 3584 + 3584 + 1  # the released model + the head
    # fp32 master weights, their gradients and AdamW's two moments: 16 bytes per parameter
    assert full["params_bytes"] + full["grads_bytes"] + full["optimizer_bytes"] == 16 * full["parameters"]
    assert full["total_bytes"] > 120 * GB and not full["fits"]
    sharded = plan(capsys, BT, QWEN25_7B, "--plan-gpus", "8", "--fsdp")
    assert sharded["params_bytes"] + sharded["grads_bytes"] + sharded["optimizer_bytes"] < 17 * GB
    assert sharded["fits"] and sharded["total_bytes"] < 50 * GB
    lora = plan(capsys, BT, QWEN25_7B, "--plan-gpus", "1", "--lora-r", "16")
    # adapters on the language model's 7 projections of 28 layers, the head in full, all else frozen
    assert 40e6 < lora["trained_parameters"] < 60e6 and lora["fits"]
    assert lora["grads_bytes"] == 4 * lora["trained_parameters"] and lora["optimizer_bytes"] == 2 * lora["grads_bytes"]
    # DDP over 8 GPUs holds everything on every GPU, plus its gradient buckets
    ddp8 = plan(capsys, BT, QWEN25_7B, "--plan-gpus", "8")
    assert not ddp8["fits"] and ddp8["ddp_buckets_bytes"] == full["grads_bytes"]


@pytest.mark.slow
def test_grpo_on_a_7b_policy_and_the_2b_judge(capsys):
    items = ["grpo", "--items", "unused.jsonl", "--micro-batch", "1"]
    full = plan(capsys, items, QWEN25_7B, "--plan-gpus", "1")
    assert full["reference_bytes"] == 4 * 8_292_166_656 and not full["fits"]  # a second copy for the KL
    lora = plan(capsys, items, QWEN25_7B, "--plan-gpus", "1", "--lora-r", "16")
    assert lora["reference_bytes"] == 0 and lora["fits"]  # the reference is the base, adapters switched off
    hybrid = plan(capsys, items, QWEN25_7B, "--plan-gpus", "16", "--fsdp", "--fsdp-shard-size", "8")
    assert hybrid["strategy"] == "hsdp" and hybrid["shard_size"] == 8 and hybrid["fits"]
    small = plan(capsys, BT, QWEN2_2B, "--plan-gpus", "1")
    assert small["parameters"] == 2_208_985_600 + 1536 * 1536 + 2 * 1536 + 1  # tied embeddings counted once
    # DeepSpeed (parsed only where it is installed: its options need it): ZeRO-2 in bf16 keeps the bf16
    # weights whole, splits the gradients and the fp32 master weights and moments over the GPUs
    from mmreward.train.lora import NO_LORA
    from mmreward.train.plan import Setup, compute

    zero2 = compute(Setup("bt", QWEN2_2B, None, 2, 4, "zero2", 4, True, 2, False, False, 2048), NO_LORA, 80)
    n = zero2["parameters"]
    assert zero2["params_bytes"] == 2 * n and zero2["optimizer_bytes"] == pytest.approx(12 * n / 4, abs=64)
    assert zero2["grads_bytes"] == pytest.approx(2 * n / 4, abs=64)
