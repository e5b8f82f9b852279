"""Two CPU processes (torchrun over gloo) take the optimizer step one process takes over the same
global batch: `train bt` (DDP through the Trainer) and GRPO (DDP with no_sync micro-batches and
padded backward passes), weights equal to 1e-5. See one_step_runs.py for the runs themselves."""
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


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_take_the_step_of_one_process_over_the_global_batch(tmp_path, tiny_dir):
    two = workspace(tmp_path / "two")
    script = Path(one_step_runs.__file__)
    launched = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(script), str(two)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    one = workspace(tmp_path / "one")  # the reference, here, while the two processes start
    one_step_runs.bt_step(one)
    one_step_runs.grpo_step(one)
    output, _ = launched.communicate(timeout=600)
    assert launched.returncode == 0, output[-3000:]

    for stage, files in (("bt", ("model.safetensors", "reward_head.safetensors")), ("grpo", ("model.safetensors",))):
        for name in files:
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
