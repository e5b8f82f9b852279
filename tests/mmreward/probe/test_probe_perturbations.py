"""What each perturbation does to the pixels, frames and words it is given."""
import io

import numpy as np
import pytest
from PIL import Image

from mmreward.errors import MediaError
from mmreward.probe import image, prompt, text, typographic, video
from mmreward.probe.media import MediaStore


@pytest.fixture()
def photo(real_media):
    return Image.open(real_media / "extreme_ironing.jpg").convert("RGB")


def test_invariances_change_pixels_a_little_and_keep_the_picture(photo):
    rng = np.random.default_rng(0)
    encoded = MediaStore.write_image(*image.jpeg(photo, rng)[:1], jpeg_quality=image.JPEG_QUALITY)
    reread = Image.open(io.BytesIO(encoded))  # the model decodes these bytes: the re-encoding is what it sees
    assert reread.format == "JPEG" and reread.size == photo.size
    diff = np.abs(np.asarray(reread.convert("RGB"), dtype=int) - np.asarray(photo, dtype=int)).mean()
    assert 0 < diff < 8  # re-encoded, not replaced
    w, h = photo.size
    assert image.resize(photo, rng)[0].size == (round(w * image.RESIZE_SCALE), round(h * image.RESIZE_SCALE))
    assert image.crop(photo, rng)[0].size == (round(w * image.CROP_KEEP), round(h * image.CROP_KEEP))
    jittered = np.asarray(image.colour_jitter(photo, rng)[0], dtype=int)
    assert 0 < np.abs(jittered - np.asarray(photo, dtype=int)).mean() < 20


def test_degenerate_images_keep_the_size(photo):
    rng = np.random.default_rng(0)
    assert np.asarray(image.blank(photo.size, rng)).min() == 255
    assert np.asarray(image.black(photo.size, rng)).max() == 0
    noise = np.asarray(image.noise(photo.size, rng))
    assert noise.shape == (photo.size[1], photo.size[0], 3) and 120 < noise.mean() < 135


def test_typographic_paint_covers_the_bottom_band_only(photo):
    painted = np.asarray(typographic.paint(photo, typographic.CLAIM), dtype=int)
    original = np.asarray(photo, dtype=int)
    h = original.shape[0]
    assert np.array_equal(painted[: h // 2], original[: h // 2])
    bottom = painted[-h // 10:]
    assert (bottom == 255).all(axis=2).mean() > 0.5 and (bottom < 60).all(axis=2).any()  # white band, dark text


def test_video_reorderings():
    frames = np.arange(8)[:, None, None, None] * np.ones((8, 4, 4, 3), dtype=np.uint8)
    rng = np.random.default_rng(0)
    shuffled = video.shuffle(frames, rng)[:, 0, 0, 0]
    assert sorted(shuffled) == list(range(8)) and list(shuffled) != list(range(8))
    assert list(video.reverse(frames, rng)[:, 0, 0, 0]) == list(range(7, -1, -1))
    assert list(video.freeze(frames, rng)[:, 0, 0, 0]) == [4] * 8


def test_master_keys_are_the_papers_and_markdown_keeps_the_words():
    assert {":", ".", "Thought process:", "Let's solve this problem step by step.", "Solution",
            "かいせつ"} <= set(text.MASTER_KEYS)
    answer = "The dog is brown. It lies next to a mirror. Its ears are floppy."
    dressed = text.markdown(answer)
    assert dressed.startswith("## Answer") and "- It lies next to a mirror." in dressed
    assert all(s in dressed for s in ("The dog is brown.", "Its ears are floppy."))


def test_one_content_word_changes():
    rng = np.random.default_rng(0)
    changed = prompt.change_one_word("a red car parked on the street", rng, [])
    before, after = "a red car parked on the street".split(), changed.split()
    assert len(before) == len(after) and sum(a != b for a, b in zip(before, after)) == 1
    assert after[1] in prompt.CONTRASTS[0] and after[1] != "red"
    # no contrast word: a content word of another prompt replaces one of this prompt's
    changed = prompt.change_one_word("Describe the kitchen counter", rng, ["a penguin on ice"])
    assert changed != "Describe the kitchen counter" and ("penguin" in changed or "ice" in changed)
    assert prompt.change_one_word("is it?", rng, []) is None


def test_store_decodes_originals_once_and_confines_paths(real_media):
    store = MediaStore(real_media, video_frames=4)
    with pytest.raises(MediaError, match="record: image 'nope.png' not found under media root"):
        store.materialise({"prompt": "p", "images": ["nope.png"], "candidates": [{"text": "t"}]})
    with pytest.raises(MediaError, match="candidate 0: .*may not leave the media root"):
        store.materialise({"prompt": "p", "candidates": [{"images": ["../outside.jpg"]}]})
    photo = Image.open(real_media / "waterview.jpg")
    out = store.materialise({"prompt": "p", "candidates": [{"images": ["waterview.jpg", photo]},
                                                           {"videos": ["example_1_A.mp4"]}]})
    first, second = out["candidates"][0]["images"]
    assert np.array_equal(np.asarray(first), np.asarray(photo.convert("RGB")))  # a path and a PIL image alike
    assert store.image("waterview.jpg") is first  # decoded once
    clip = out["candidates"][1]["videos"][0]
    assert set(clip) == {"frames", "fps"} and clip["frames"].shape[0] == 4 and clip["fps"] > 0
    assert store.video(clip) is clip and store.video("example_1_A.mp4") is clip
