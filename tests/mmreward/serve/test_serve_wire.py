"""In-memory media -> JSON for the service (`mmreward.serve.wire`): every frame of a video array
goes as its own pixels; a path under media_root is inlined once per call."""
from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

from mmreward.scoring.datauri import decode_data_uri
from mmreward.serve.wire import to_json_records


def _pixels(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(decode_data_uri(uri, "image", "frame", None))).convert("RGB"))


def _clip(t: int = 6) -> np.ndarray:
    """THWC uint8, frame i filled with grey level 40 * i (every frame differs)."""
    return np.stack([np.full((8, 8, 3), 40 * i, dtype=np.uint8) for i in range(t)])


def test_each_frame_of_an_array_video_is_sent_as_its_own_pixels():
    clip = _clip()
    forms = [clip, {"frames": clip, "fps": 2}, torch.from_numpy(clip).permute(0, 3, 1, 2).contiguous()]
    records = [{"id": i, "prompt": "p", "candidates": [{"videos": [form]}]} for i, form in enumerate(forms)]
    out, errors = to_json_records(records)
    assert errors == {}
    for record in out:
        frames = record["candidates"][0]["videos"][0]["frames"]
        assert len(frames) == len(clip)
        for t, uri in enumerate(frames):  # frame views are freed one by one: none may reuse another's PNG
            assert np.array_equal(_pixels(uri), clip[t]), f"record {record['id']}, frame {t}"
    assert out[1]["candidates"][0]["videos"][0]["fps"] == 2


def test_one_image_object_or_path_is_encoded_once_per_call(tmp_path):
    image = Image.new("RGB", (8, 8), (200, 10, 10))
    image.save(tmp_path / "a.png")
    records = [{"id": i, "prompt": "p", "candidates": [{"images": [image]}, {"images": ["a.png"]}]} for i in range(3)]
    out, errors = to_json_records(records, media_root=tmp_path)
    assert errors == {}
    in_memory = {r["candidates"][0]["images"][0] for r in out}
    from_path = {r["candidates"][1]["images"][0] for r in out}
    assert len(in_memory) == 1 and len(from_path) == 1
    assert np.array_equal(_pixels(next(iter(in_memory))), np.asarray(image))
    assert decode_data_uri(next(iter(from_path)), "image", "a.png", None) == (tmp_path / "a.png").read_bytes()
