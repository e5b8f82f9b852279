"""What every image reward shares: batching across records, per-record errors, a failing image isolated."""
from __future__ import annotations

import numpy as np
from PIL import Image

from mmreward.rewards.base import ImageReward


class MeanPixel(ImageReward):
    """Reward = mean pixel value / 255; the 'model' refuses images wider than 100 pixels (ValueError,
    as a processor refuses an input) and has a bug on images taller than 1000."""

    def __init__(self):
        super().__init__("meanpixel")
        self.batches = []

    def score_images(self, contexts, images):
        self.batches.append(len(images))
        if any(im.height > 1000 for im in images):
            raise RuntimeError("a bug")
        if any(im.width > 100 for im in images):
            raise ValueError("too wide")
        return [{"reward": float(np.asarray(im).mean() / 255), "prompt": c} for c, im in zip(contexts, images)]


def test_batches_span_records_and_a_failing_image_costs_only_its_record(generated):
    root, records = generated  # g3 (224x100) and g5 (300x200) are too wide for MeanPixel
    rm = MeanPixel()
    out = rm.score(records, media_root=root, batch_size=4)
    # 7 images in batches of 4 and 3 that cut across records; each failing batch retried image by image
    assert rm.batches == [4, 1, 1, 1, 1, 3, 1, 1, 1]
    assert out[0]["rewards"] == [
        float(np.asarray(Image.open(root / c["images"][0]).convert("RGB")).mean() / 255)
        for c in records[0]["candidates"]]
    assert out[0]["prompt"] == [records[0]["prompt"]] * 2  # extra per-candidate outputs become lists
    assert out[1] == {"id": "b", "error": "candidate 1: the model refuses this input: too wide"}
    assert out[2] == {"id": "c", "error": "candidate 0: the model refuses this input: too wide"}


def test_a_bug_in_the_model_is_not_turned_into_error_lines(tmp_path):
    import pytest

    Image.new("RGB", (20, 1200)).save(tmp_path / "tall.png")
    record = {"id": "t", "prompt": "p", "candidates": [{"images": ["tall.png"]}]}
    with pytest.raises(RuntimeError, match="a bug"):
        MeanPixel().score([record], media_root=tmp_path)
