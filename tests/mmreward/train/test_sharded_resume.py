"""A sharded run (FSDP2, or DeepSpeed ZeRO-3, over two CPU processes) stopped while writing a
checkpoint, then resumed, ends with the weights and the sharded optimizer state of an uninterrupted
run; the half-written checkpoint is skipped. See sharded_resume_runs.py for the runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sharded_resume_runs
from test_train_resume import assert_same

ATOL = 1e-6


def dcp_tensors(folder: Path, tmp: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a torch.distributed.checkpoint folder, flattened to name -> tensor."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    file = tmp / f"{folder.parent.parent.name}-{folder.name}.pt"
    dcp_to_torch_save(str(folder), str(file))
    return flat_tensors(torch.load(file, weights_only=False))


def flat_tensors(value, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in nested dicts and lists, by its dotted path."""
    if torch.is_tensor(value):
        return {prefix: value}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    return {k: v for key, x in items for k, v in flat_tensors(x, f"{prefix}.{key}" if prefix else str(key)).items()}


def stop_and_resume(work: Path, *flags: str) -> None:
    from mmreward.synth.images import make_image_pairs

    make_image_pairs(work / "pairs", 4, seed=5, size=56, differ="colour")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           sharded_resume_runs.__file__, str(work), *flags], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipping incomplete checkpoint" in done.stderr and "checkpoint-1 (step 1)" in done.stderr


def assert_finished_as_uninterrupted(whole: Path, cut: Path) -> None:
    from mmreward.train import checkpoints

    assert_same(whole, cut, ("model.safetensors", "reward_head.safetensors"))  # the final model, gathered
    assert not (cut / checkpoints.STAGING).exists()
    steps = [json.loads(x)["step"] for x in (cut / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_sharded_run_stopped_while_saving_resumes_to_the_uninterrupted_weights(tmp_path):
    stop_and_resume(tmp_path)
    # the stop came after every process wrote its shards, before the state that completes the checkpoint
    left = json.loads((tmp_path / "left_by_the_stop.json").read_text())
    assert {"pytorch_model_fsdp_0", "optimizer_0", "model.safetensors"} <= set(left) and "trainer_state.json" not in left
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for part in ("pytorch_model_fsdp_0", "optimizer_0"):
        x, y = dcp_tensors(whole / "checkpoint-2" / part, tmp_path), dcp_tensors(cut / "checkpoint-2" / part, tmp_path)
        assert x.keys() == y.keys() and len(x) > 10, part
        worst = max(float((x[k].float() - y[k].float()).abs().max()) for k in x)
        assert worst <= ATOL, (part, worst)
    assert any("exp_avg" in k for k in dcp_tensors(cut / "checkpoint-2" / "optimizer_0", tmp_path))
    assert_finished_as_uninterrupted(whole, cut)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_zero3_run_stopped_while_saving_resumes_to_the_uninterrupted_partitions(tmp_path):
    pytest.importorskip("deepspeed", reason="DeepSpeed is not installed (.ci/setup installs it)")
    stop_and_resume(tmp_path, "--deepspeed")
    left = json.loads((tmp_path / "left_by_the_stop.json").read_text())
    assert {"global_step2", "model.safetensors"} <= set(left) and "trainer_state.json" not in left
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for rank in (0, 1):  # each process's partition of Adam's moments
        name = f"checkpoint-2/global_step2/zero_pp_rank_{rank}_mp_rank_00_optim_states.pt"
        x, y = ({k: v for k, v in flat_tensors(torch.load(run / name, weights_only=False)).items()
                 if ".state." in k} for run in (whole, cut))
        assert x.keys() == y.keys() and x, name
        worst = max(float((x[k].float() - y[k].float()).abs().max()) for k in x)
        assert worst <= ATOL, (name, worst)
        moments = [v for k, v in y.items() if k.endswith("exp_avg")]
        assert moments and all(float(m.abs().sum()) > 0 for m in moments), name
    # the fp32 weights of the partitions, put together by DeepSpeed's own reader (a partition's padding
    # is left uninitialised, so the partitions are not compared as they are)
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    x, y = (get_fp32_state_dict_from_zero_checkpoint(str(run / "checkpoint-2")) for run in (whole, cut))
    assert x.keys() == y.keys() and len(x) > 10
    assert max(float((x[k] - y[k]).abs().max()) for k in x) <= ATOL
    assert_finished_as_uninterrupted(whole, cut)
