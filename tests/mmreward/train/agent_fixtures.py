"""Shared by the agent-training tests: two tiny clips, a scripted 3-turn trace, the tiny model."""
from __future__ import annotations

import json
import os

import numpy as np

from mmreward.agent.config import AgentConfig

# small and fast: 8 candidate frames, 2 shown first, 56x56 frames (4 image tokens each). The recipes'
# machinery is tested in the "mmreward-v1" dialect these texts speak (a random model keeps going
# there); the published protocol's training path: test_agent_protocol_training.py
CONFIG = AgentConfig(protocol="mmreward-v1", initial_frames=2, candidate_frames=8, max_turns=3,
                     max_frames_per_call=2, memory_window=1, max_new_tokens=24, frame_max_pixels=56 * 56)
TEXTS = [
    'Look closer.<tool_call>{"name": "select_frames", "arguments": {"target_frames": [3, 5]}}</tool_call>',
    'Frame 6 too.<tool_call>{"name": "select_frames", "arguments": {"target_frames": [6]}}</tool_call>',
    "Video 2 is brighter.<answer>TA: 2, VQ: 2, MQ: 1, OA: 2</answer>",
]
LABELS = {"TA": 2, "VQ": 2, "MQ": 1, "OA": 2}


def write_clips(folder) -> list[str]:
    from video.writer import write_mp4

    names = []
    for v in range(2):
        frames = np.zeros((16, 56, 56, 3), dtype=np.uint8)
        for i in range(16):
            frames[i] = (10 * i, 60 + 100 * v, 200 - 10 * i)
        name = f"clip{v}.mp4"
        write_mp4(os.path.join(folder, name), frames)
        names.append(name)
    return names


def scripted(videos, texts=TEXTS, id="t0"):
    from mmreward.agent.episode import scripted_trace

    return scripted_trace("a ball rolls", videos, texts, CONFIG, id=id, labels=LABELS)


def tiny():
    from mmreward.models.backbone import BackboneOptions, load_backbone

    model, processor, _ = load_backbone("tiny", BackboneOptions(device="cpu", min_pixels=28 * 28,
                                                                 max_pixels=64 * 28 * 28))
    return model, processor


def changed_weights(tuned_dir) -> set[str]:
    """The tensors of the model in `tuned_dir` (an ordinary checkpoint) that differ from the tiny's."""
    import torch
    from safetensors.torch import load_file

    from mmreward.models.tiny import tiny_path

    base, tuned = load_file(str(tiny_path() / "model.safetensors")), load_file(str(tuned_dir / "model.safetensors"))
    return {k for k in base if not torch.equal(base[k], tuned[k])}


def only_adapted(changed: set[str]) -> bool:
    """True when every changed tensor is one LoRA adapts by default (the language model's projections)."""
    return bool(changed) and all("layers." in k and "proj" in k and "visual" not in k for k in changed)


def torchrun(*args: str, cwd=None):
    """`mmreward ARGS` in two processes. torchrun rather than `accelerate launch --cpu`, which
    starts one process: without a GPU our recipes ask accelerate for CPU processes over gloo."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "mmreward.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})


def small_agent_args() -> list[str]:
    """CONFIG as command-line options, with one short turn: a random model never answers."""
    return ["--initial-frames", str(CONFIG.initial_frames), "--candidate-frames", str(CONFIG.candidate_frames),
            "--max-frames-per-call", str(CONFIG.max_frames_per_call), "--max-turns", "1",
            "--max-new-tokens", "4", "--min-pixels", str(28 * 28), "--max-pixels", str(64 * 28 * 28)]


def write_items(folder, n: int) -> str:
    """n items over the two clips of `write_clips` (already in `folder`)."""
    path = os.path.join(folder, "items.jsonl")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"i{i}", "prompt": "a ball rolls", "videos": ["clip0.mp4", "clip1.mp4"],
                                "labels": LABELS}) + "\n")
    return path
