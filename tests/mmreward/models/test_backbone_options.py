"""What load_processor sets on the checkpoint's processor, and the notices that therefore never show."""
import numpy as np
import pytest

from mmreward.scoring.batching import collate, count_tokens
from mmreward.scoring.prompts import Prompt
from video.reader import SampledClip


def test_video_frames_keep_their_own_bound_and_the_processor_says_nothing(scalar_rm, capfd):
    from transformers.utils import logging as hf_logging

    vp = scalar_rm.processor.video_processor
    if not hasattr(type(vp), "cap_pixels_per_frame"):
        pytest.skip("this transformers has no whole-video pixel cap (nor its notice)")
    assert vp.cap_pixels_per_frame is False
    hf_logging.logging.Logger.warning_once.cache_clear()  # a notice given earlier in the session counts too
    frames = np.random.default_rng(0).integers(0, 255, (8, 180, 320, 3), dtype=np.uint8)
    clip = SampledClip(frames, list(range(0, 64, 8)), 8.0, 64)
    prompt = Prompt([{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "a ball rolls"}]}],
                    [], [clip])
    assert count_tokens(scalar_rm.processor, prompt) == collate(scalar_rm.processor, [prompt])["input_ids"].shape[1]
    err = capfd.readouterr().err
    assert "per-frame pixel cap" not in err and "cap_pixels_per_frame" not in err, err
