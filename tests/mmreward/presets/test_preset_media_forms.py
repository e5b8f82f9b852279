"""The released-model presets take every media form a record accepts, and the same picture or
clip in any form gets what its file gets: the same frames and pixels fed to the model, the same
rewards, the same generated text (the files' own equivalence with the official scripts is
checked in test_videoreward.py, test_unifiedreward.py and test_skywork.py).

Forms: an image as a path, encoded bytes, a data URI, a PIL image opened from the file, its
decoded RGB pixels as a numpy array and as a CHW tensor; a video as a path, its bytes, a data
URI, and all its decoded frames with its fps (the whole clip: a file's frame-count rule needs
the clip's length and rate).
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import mmreward
from mmreward.presets import qwen_media
from mmreward.presets import unifiedreward as ur
from mmreward.scoring.datauri import encode_data_uri
from mmreward.scoring.media import MediaOptions
from official_layouts import IMAGES, SMALL_CLIPS, VIDEOS, needs_data

pytestmark = [needs_data, pytest.mark.slow]  # each builds and loads a released model's tiny twin
CAPTION = "A man ironing clothes on an ironing board on the back of a yellow taxi."
PHOTOS = ["extreme_ironing.jpg", "waterview.jpg"]
FPS = {"example_3_B.mp4": 16.0, "example_2_A.mp4": 24.0}


def all_frames(name: str) -> np.ndarray:
    from video.reader import VideoReader

    with VideoReader(VIDEOS / name) as reader:
        return reader.get_frames(list(range(reader.num_frames)))


def image_forms(name: str) -> dict:
    """One photo in every form, each standing for the file."""
    data = (IMAGES / name).read_bytes()
    pixels = np.asarray(Image.open(IMAGES / name).convert("RGB"))
    return {"path": name, "bytes": data, "data URI": encode_data_uri(data, "image/jpeg"),
            "PIL": Image.open(IMAGES / name), "array": pixels,
            "tensor": torch.from_numpy(pixels.copy()).permute(2, 0, 1)}


@pytest.fixture(scope="module")
def video_forms() -> dict:
    """name -> {form: the clip in that form} for the two small real clips."""
    out = {}
    for name in SMALL_CLIPS:
        data = (VIDEOS / name).read_bytes()
        frames = all_frames(name)
        out[name] = {"path": name, "bytes": data, "data URI": encode_data_uri(data, "video/mp4"),
                     "frames": {"frames": frames, "fps": FPS[name]},
                     "tensor": {"frames": torch.from_numpy(frames).permute(0, 3, 1, 2), "fps": FPS[name]}}
    return out


@pytest.fixture(scope="module")
def judge():
    return mmreward.load("tiny", preset="unifiedreward", device="cpu", dtype="float32", max_new_tokens=8)


# ---------------------------------------------------------------------- VideoReward

@pytest.mark.slow
def test_videoreward_same_clip_in_every_form(videoreward_rm, video_forms, clip_root):
    name = SMALL_CLIPS[0]
    forms = video_forms[name]
    clips = {form: videoreward_rm.read_video(value, clip_root) for form, value in forms.items()}
    for form, clip in clips.items():
        assert clip.indices == clips["path"].indices == [0, 8, 17, 25, 34, 42, 51, 59], form
        assert (clip.fps, clip.total_frames) == (16.0, 60), form
        assert torch.equal(clip.video, clips["path"].video), form
    other = SMALL_CLIPS[1]  # another clip, last: its reward differs
    record = {"id": "v", "prompt": CAPTION, "candidates": [{"videos": [v]} for v in [*forms.values(), other]]}
    [out] = videoreward_rm.score([record], media_root=clip_root, batch_size=1)
    assert "error" not in out, out
    assert len(set(out["rewards"][:-1])) == 1 and out["rewards"][-1] != out["rewards"][0], out["rewards"]
    for dim in ("VQ", "MQ", "TA"):
        assert len(set(out["dimensions"][dim][:-1])) == 1, (dim, out["dimensions"][dim])
    # frames without their own fps take the record's
    bare = {"id": "r", "prompt": CAPTION, "fps": 16.0, "candidates": [{"videos": [forms["frames"]["frames"]]}]}
    assert videoreward_rm.score([bare], media_root=clip_root)[0]["rewards"] == out["rewards"][:1]


def test_videoreward_bad_in_memory_media_cost_only_their_record(videoreward_rm, video_forms, clip_root):
    good = video_forms[SMALL_CLIPS[0]]["bytes"]
    one_frame = all_frames(SMALL_CLIPS[0])[:1]
    records = [
        {"id": "base64", "prompt": "p", "candidates": [{"videos": [good]}, {"videos": ["data:video/mp4;base64,%%"]}]},
        {"id": "escape", "prompt": "p", "candidates": [{"videos": ["../" + SMALL_CLIPS[0]]}]},
        {"id": "short", "prompt": "p", "candidates": [{"videos": [{"frames": one_frame, "fps": 16}]}]},
        {"id": "good", "prompt": "p", "candidates": [{"videos": [good]}]},
        {"id": "missing", "prompt": "p", "candidates": [{"videos": [good]}, {"videos": ["later.mp4"]}]},
    ]
    out = videoreward_rm.score(records, media_root=clip_root)
    assert out[0]["error"] == "candidate 1: video 0: invalid base64 in data URI"
    assert out[1]["error"].startswith("candidate 0: '../example_3_B.mp4' contains '..'")
    assert out[2]["error"].startswith("candidate 0: video 0: nframes should be in [2, 1]")
    assert "error" not in out[3] and len(out[3]["rewards"]) == 1
    # a file not (yet) there is the one cause a resumed run tries again
    assert out[4] == {"id": "missing", "error": "candidate 1: video 'later.mp4' not found under media root",
                      "retryable": True}
    assert not any("retryable" in o for o in out[:4])


# ---------------------------------------------------------------------- UnifiedReward

@pytest.mark.slow
def test_unifiedreward_image_pair_in_every_form(judge):
    recipe = ur.RECIPES[("unifiedreward", "pair-rank", "image")]
    forms = [image_forms(p) for p in PHOTOS]
    pairs = {form: [("images", f[form]) for f in forms] for form in forms[0]}
    ref = judge.inputs(judge.question(CAPTION, pairs["path"], recipe, IMAGES))
    for form, files in pairs.items():
        got = judge.inputs(judge.question(CAPTION, files, recipe, IMAGES))
        assert got["input_ids"].tolist() == ref["input_ids"].tolist(), form
        assert torch.equal(got["pixel_values"], ref["pixel_values"]), form
        assert torch.equal(got["image_grid_thw"], ref["image_grid_thw"]), form
    mixed = [("images", forms[0]["PIL"]), ("images", forms[1]["data URI"])]
    records = [{"id": form, "prompt": CAPTION, "candidates": [{"images": [v]} for _, v in files]}
               for form, files in [*pairs.items(), ("mixed", mixed)]]
    out = judge.score(records, media_root=IMAGES)
    assert all("error" not in o for o in out), out
    assert len({o["judge_text"][0] for o in out}) == 1, [o["judge_text"] for o in out]
    assert len({tuple(o["rewards"]) for o in out}) == 1


@pytest.mark.slow  # ~6 s: five questions over two real clips, two generations
def test_unifiedreward_video_pair_in_every_form(judge, video_forms, clip_root):
    recipe = ur.RECIPES[("unifiedreward", "pair-rank", "video")]
    pairs = {form: [("videos", video_forms[name][form]) for name in SMALL_CLIPS]
             for form in ("path", "bytes", "tensor")}
    pairs["mixed"] = [("videos", video_forms[SMALL_CLIPS[0]]["data URI"]), ("videos", video_forms[SMALL_CLIPS[1]]["path"])]
    question = judge.question(CAPTION, pairs["path"], recipe, clip_root)
    ref = judge.inputs(question)
    assert ref["video_grid_thw"][:, 0].tolist() == [3, 6]  # 6 and 12 frames (qwen-vl-utils' rule)
    for form, files in pairs.items():
        got = judge.inputs(judge.question(CAPTION, files, recipe, clip_root))
        assert got["input_ids"].tolist() == ref["input_ids"].tolist(), form
        assert torch.equal(got["pixel_values_videos"], ref["pixel_values_videos"]), form
        assert torch.equal(torch.as_tensor(got["second_per_grid_ts"]), torch.as_tensor(ref["second_per_grid_ts"])), form
    # the frames (THWC arrays with their fps) through score(): the path's generated text
    record = {"id": "frames", "prompt": CAPTION,
              "candidates": [{"videos": [video_forms[name]["frames"]]} for name in SMALL_CLIPS]}
    [out] = judge.score([record], media_root=clip_root)
    assert out["judge_text"] == judge.generate([question])


def test_unifiedreward_think_qwen3vl_jpeg_frames_in_every_form(video_forms, clip_root):
    name = SMALL_CLIPS[0]
    opts = MediaOptions(media_root=clip_root)
    ref = [np.asarray(f) for f in ur.jpeg_frames(name, opts=opts)]
    for form, value in video_forms[name].items():
        got = [np.asarray(f) for f in ur.jpeg_frames(value, opts=opts)]
        assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(got, ref)), form


@pytest.mark.slow
def test_unifiedreward_caps_apply_to_every_form(video_forms, clip_root, tmp_path):
    """max_image_pixels bounds each video frame, from the header, as it bounds images."""
    capped = mmreward.load("tiny", preset="unifiedreward", device="cpu", dtype="float32", max_new_tokens=2,
                           max_image_pixels=250_000, max_media_bytes=500_000)
    (tmp_path / PHOTOS[0]).write_bytes((IMAGES / PHOTOS[0]).read_bytes())  # 570x380 = 216600 pixels
    for name in SMALL_CLIPS:
        (tmp_path / name).write_bytes((VIDEOS / name).read_bytes())
    small, large = video_forms[SMALL_CLIPS[0]], video_forms[SMALL_CLIPS[1]]  # 614 kB, 404 kB
    records = [
        {"id": "image", "prompt": CAPTION, "candidates": [{"images": [PHOTOS[0]]}]},
        {"id": "path", "prompt": CAPTION, "candidates": [{"videos": [small["path"]]}, {"videos": [large["path"]]}]},
        {"id": "bytes", "prompt": CAPTION, "candidates": [{"videos": [large["bytes"]]}, {"videos": [small["path"]]}]},
        {"id": "frames", "prompt": CAPTION, "candidates": [{"videos": [large["frames"]]}, {"videos": [large["path"]]}]},
        {"id": "too big", "prompt": CAPTION, "candidates": [{"videos": [small["bytes"]]}, {"videos": [large["path"]]}]},
    ]
    out = capped.score(records, media_root=tmp_path)
    assert "error" not in out[0], out[0]
    assert out[1]["error"].startswith("candidate 0: video 'example_3_B.mp4': cannot read video")
    assert out[1]["error"].endswith("frames are 688x384 = 0.3 MP, over the cap of 0.2 MP per frame; "
                                    "refused before decoding")
    assert out[2]["error"] == ("candidate 0: video 0: frames are 672x384 = 0.3 MP, over the cap of 0.2 MP per "
                               "frame; refused before decoding")
    assert out[3]["error"].startswith("candidate 0: video 0: frame ") and "over the cap of 0.2 MP" in out[3]["error"]
    assert out[4]["error"] == "candidate 0: video 0 is 0.6 MB of encoded data, over the cap of 0.5 MB"


# ---------------------------------------------------------------------- Skywork-VL-Reward

@pytest.fixture(scope="module")
def skywork_rm(skywork):
    return mmreward.load(str(skywork["dir"]), device="cpu", dtype="float32")


@pytest.mark.slow
def test_skywork_same_image_in_every_form(skywork_rm):
    answers = ["He is ironing clothes on a board fixed to the back of a taxi.", "He sleeps."]
    records = [{"id": form, "prompt": "What is the man doing?", "images": [value],
                "candidates": [{"text": a} for a in answers]}
               for form, value in image_forms(PHOTOS[0]).items()]
    out = skywork_rm.score(records, media_root=IMAGES, batch_size=2)
    assert all("error" not in o for o in out), out
    assert len({tuple(o["rewards"]) for o in out}) == 1, {o["id"]: o["rewards"] for o in out}
    assert out[0]["rewards"][0] != out[0]["rewards"][1]


def test_skywork_same_video_in_every_form(skywork_rm, video_forms, clip_root):
    name = SMALL_CLIPS[0]
    records = [{"id": form, "prompt": "What happens?", "videos": [value], "candidates": [{"text": "A walk."}]}
               for form, value in video_forms[name].items() if form != "tensor"]
    out = skywork_rm.score(records, media_root=clip_root, batch_size=1)
    assert all("error" not in o for o in out), out
    assert len({o["rewards"][0] for o in out}) == 1, {o["id"]: o["rewards"] for o in out}


# ---------------------------------------------------------------------- images as the file has them

def test_images_keep_the_files_own_pixels_in_every_form(tmp_path):
    """qwen-vl-utils opens a path with PIL and converts it itself (no EXIF rotation): bytes, data
    URIs and PIL images are kept the same way, so a rotated phone photo is not turned upright
    for one form and not for another."""
    photo = Image.open(IMAGES / PHOTOS[0])
    exif = photo.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=92, exif=exif)
    (tmp_path / "rotated.jpg").write_bytes(buffer.getvalue())
    opts = MediaOptions(media_root=tmp_path)
    official = Image.open(tmp_path / "rotated.jpg")  # what the official scripts' Image.open gives
    forms = {"path": "rotated.jpg", "bytes": buffer.getvalue(), "data URI": encode_data_uri(buffer.getvalue(), "image/jpeg"),
             "PIL": Image.open(io.BytesIO(buffer.getvalue()))}
    for form, value in forms.items():
        image = qwen_media.raw_image(value, opts)
        assert image.size == (570, 380) and image.mode == official.mode, form
        assert np.array_equal(np.asarray(image), np.asarray(official)), form
