"""Media in every accepted form (docs/architecture.md, "Scoring records"): a path, a data URI,
encoded bytes, PIL, numpy, torch, frames with an fps. One picture or one video gets the same
reward whatever form it comes in; a bad one is an error for its record only."""
from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmreward.errors import ConfigError, MediaError
from mmreward.scoring.datauri import encode_data_uri
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.records import load_item
from mmreward.scoring.score_file import score_file
from video.reader import VideoReader

SHARED = (Path(__file__).resolve().parents[3] / ".." / "shared" / "data").resolve()
VIDEO = SHARED / "videos" / "videoalign-examples" / "example_3_B.mp4"  # 60 frames, 16 fps, h264


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def bomb_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def record(rid, *, images=None, videos=None, **extra) -> dict:
    cand = {"images": images} if images is not None else {"videos": videos}
    return {"id": rid, "prompt": "a pier on a calm lake", "candidates": [cand], **extra}


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """(media root, 'photo.png', its pixels as uint8 HWC): a real photo, small."""
    root = tmp_path_factory.mktemp("forms")
    im = Image.open(SHARED / "images" / "waterview.jpg").convert("RGB").resize((84, 56))
    im.save(root / "photo.png")
    return root, "photo.png", np.asarray(im)


def test_one_image_in_every_form_gets_identical_rewards(scalar_rm, photo):
    root, name, pixels = photo
    data = (root / name).read_bytes()
    chw = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
    forms = {
        "path": name, "pathlib": Path(name), "PIL": Image.open(root / name),
        "uint8 HWC": pixels, "float64 HWC": pixels / 255.0, "float32 HWC": (pixels / 255.0).astype(np.float32),
        "float CHW tensor": chw.float() / 255, "uint8 CHW tensor": chw,
        "PNG bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data),
        "data URI": encode_data_uri(data, "image/png"),
    }
    rewards = {k: scalar_rm.score([record(k, images=[v])], media_root=root)[0]["rewards"]
               for k, v in forms.items()}
    assert all(r == rewards["path"] for r in rewards.values()), rewards  # bit-identical
    # and the same as a pixel-different picture does not get: the rewards depend on the pixels
    other = scalar_rm.score([record("flipped", images=[pixels[:, ::-1]])], media_root=root)[0]["rewards"]
    assert other != rewards["path"]


def test_one_video_in_every_form_gets_identical_rewards(scalar_rm):
    data = VIDEO.read_bytes()
    with VideoReader(VIDEO) as r:
        frames, fps = r.get_frames(list(range(r.num_frames))), r.fps  # the whole clip, decoded
    forms = {
        "path": str(VIDEO), "bytes": data, "data URI": encode_data_uri(data, "video/mp4"),
        "THWC array + fps": {"frames": frames, "fps": fps},
        "TCHW tensor + fps": {"frames": torch.from_numpy(frames).permute(0, 3, 1, 2), "fps": fps},
        "list of PIL + fps": {"frames": [Image.fromarray(f) for f in frames], "fps": fps},
    }
    recs = [record(k, videos=[v]) for k, v in forms.items()]
    recs.append(record("record fps", videos=[frames], fps=fps))
    rewards = {r["id"]: scalar_rm.score([r], media_root=SHARED)[0]["rewards"] for r in recs}
    assert all(r == rewards["path"] for r in rewards.values()), rewards
    # timing reaches the model: the same frames said to be at half the rate score differently
    slow = scalar_rm.score([record("12 fps", videos=[{"frames": frames, "fps": fps / 2}])])[0]["rewards"]
    assert slow != rewards["path"]


def test_fps_of_frames_comes_from_the_video_then_the_record_then_the_default():
    frames = np.zeros((40, 28, 28, 3), np.uint8)
    opts = MediaOptions(video_frames=4)

    def clip(rec):
        return load_item(rec, opts).candidates[0].videos[0]

    assert clip(record("d", videos=[frames])).fps == 24.0  # the documented default
    assert clip(record("r", videos=[frames], fps=8)).fps == 8.0
    assert clip(record("v", videos=[{"frames": frames, "fps": 5}], fps=8)).fps == 5.0
    c = clip(record("m", videos=[list(frames)], fps=8))
    assert c.indices == [5, 15, 25, 35] and c.total_frames == 40
    assert c.metadata()["duration"] == 5.0
    assert clip(record("o", videos=[frames])).fps == 24.0
    assert load_item(record("x", videos=[frames]), MediaOptions(default_fps=10)).candidates[0].videos[0].fps == 10


def test_bad_media_are_errors_of_their_own_record(scalar_rm, photo):
    root, name, pixels = photo
    data = (root / name).read_bytes()
    good = record("good", images=[name])
    bad = {
        "bad base64": ([name, "data:image/png;base64,@@not base64@@"], "candidate 0: image 1: invalid base64 in data URI"),
        "truncated PNG": ([data[: len(data) // 2]], "candidate 0: image 0 is corrupt or truncated"),
        "bomb": ([bomb_header(100_000, 100_000)], "candidate 0: image 0 is 10000.0 MP, over Pillow's "
                                                  "decompression-bomb limit; refused before decoding"),
        "2 channels": ([np.zeros((8, 8, 2), np.uint8)], "candidate 0: image 0: array of shape (8, 8, 2) is not an image"),
        "int64": ([pixels.astype(np.int64)], "candidate 0: image 0: dtype int64 is not supported"),
        "float range": ([pixels * 1.0], "candidate 0: image 0: float values must lie in [0, 1], got min"),
        "HWC tensor": ([torch.from_numpy(pixels.copy())], "candidate 0: image 0: tensor of shape (56, 84, 3) looks channels-last"),
        "int": ([7], "candidate 0: image 0: a int is not an image"),
        "video URI as image": (["data:video/mp4;base64,AAAA"], "candidate 0: image 0: data URI of type 'video/mp4' is not an image"),
        "not a list": (pixels, "candidate 0 images must be a list, got ndarray"),
        "missing": (["nope.png"], "candidate 0: image 'nope.png' not found under media root"),
    }
    bad_videos = {
        "video bytes": ([b"\x00\x00\x00\x18ftypmp42 not really"], "candidate 0: video 0: not a readable video"),
        "video shape": ([np.zeros((4, 8, 8), np.uint8)], "candidate 0: video 0: frames of shape (4, 8, 8) are not a THWC array"),
        "frame sizes": ([[pixels, pixels[:28]]], "candidate 0: video 0: frame 1 is 84x28 but frame 0 is 84x56"),
        "frame URI": ([{"frames": [name, "data:image/png;base64,%%", name], "fps": 2}],
                      "candidate 0: video 0: frame 1: invalid base64 in data URI"),
        "dict keys": ([{"frames": [pixels], "rate": 8}], "needs 'frames' and may have 'fps'"),
        "video fps": ([{"frames": [pixels], "fps": 0}], "candidate 0: video 0: fps must be a positive number"),
    }
    recs = [good]
    for k, (v, _) in bad.items():
        recs += [record(k, images=v), good]
    for k, (v, _) in bad_videos.items():
        recs += [record(k, videos=v), good]
    recs.append(record("record fps", videos=[[pixels]], fps="fast"))
    outs = scalar_rm.score(recs, media_root=root, batch_size=4)
    assert len(outs) == len(recs) and [o["id"] for o in outs] == [r["id"] for r in recs]
    want = {k: m for k, (_, m) in {**bad, **bad_videos}.items()}
    want["record fps"] = "record: fps must be a positive number, got 'fast'"
    for o in outs:
        if o["id"] == "good":
            assert "error" not in o
        else:
            assert want[o["id"]] in o.get("error", ""), (o, want[o["id"]])
    goods = [o["rewards"] for o in outs if o["id"] == "good"]
    alone = scalar_rm.score([good], media_root=root)[0]["rewards"]
    assert np.allclose(goods, alone, atol=1e-5)


def test_caps_are_checked_before_decoding(photo):
    root, name, pixels = photo
    small = MediaOptions(media_root=root, max_media_bytes=1000, max_video_frames=3, max_image_pixels=2000)
    # the byte cap comes first: this payload is not even valid base64
    with pytest.raises(MediaError, match=r"candidate 0: image 0: data URI holds about 0\.0 MB, over the cap"):
        load_item(record("u", images=["data:image/png;base64," + "@" * 2000]), small)
    with pytest.raises(MediaError, match=r"candidate 0: video 0 is 0\.0 MB of encoded data, over the cap"):
        load_item(record("b", videos=[b"\0" * 1001]), small)
    with pytest.raises(MediaError, match="candidate 0: video 0 has 4 frames, over the cap of 3"):
        load_item(record("f", videos=[[pixels] * 4]), small)
    with pytest.raises(MediaError, match=r"candidate 0: image 0 is 84x56 = 0\.0 MP, over the cap"):
        load_item(record("p", images=[pixels]), small)
    with pytest.raises(MediaError, match=r"candidate 0: video 0: frame 0 is 84x56 = 0\.0 MP, over the cap"):
        load_item(record("v", videos=[np.stack([pixels] * 2)]), small)
    with pytest.raises(ConfigError, match="max_media_bytes must be a positive integer"):
        MediaOptions(max_media_bytes=0)


def test_score_file_reads_data_uris_from_json(scalar_rm, photo, tmp_path):
    """`mmreward score` reads JSON: a string starting with `data:` is a data URI, others are paths."""
    root, name, _ = photo
    uri = encode_data_uri((root / name).read_bytes(), "image/png")
    frames = np.random.default_rng(1).integers(0, 256, (6, 56, 56, 3), dtype=np.uint8)
    frame_uris = [encode_data_uri(png(Image.fromarray(f)), "image/png") for f in frames]
    lines = [record("path", images=[name]), record("uri", images=[uri]),
             record("bad", images=["data:image/png;base64,AAA"]),
             record("frames", videos=[{"frames": frame_uris, "fps": 8}])]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in lines))
    score_file(scalar_rm, src, tmp_path / "out.jsonl", media_root=root, batch_size=1, progress=False)
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out[0]["rewards"] == out[1]["rewards"]
    assert out[2] == {"id": "bad", "error": "candidate 0: image 0: invalid base64 in data URI"}
    in_memory = scalar_rm.score([record("frames", videos=[{"frames": frames, "fps": 8}])])[0]
    assert out[3]["rewards"] == in_memory["rewards"]
