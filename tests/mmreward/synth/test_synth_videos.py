"""Synthetic video pairs: clips identical but for a short defect the decoder can see."""
import json

import numpy as np
import pytest

from mmreward.synth.shapes import COLOURS
from mmreward.synth.videos import DEFECTS, defect_run, make_video_pairs, random_scene, render_clip
from video import VideoReader, uniform_indices


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("vid")
    return out, make_video_pairs(out, n=16, seed=11, size=64, frames=12, fps=8)


def decoded(out, record):
    """Both clips of a record, decoded: (good, bad) as float arrays."""
    clips = []
    for c in record["candidates"]:
        with VideoReader(out / c["videos"][0]) as r:
            assert (r.num_frames, r.fps) == (12, 8.0)
            clips.append(r.get_frames(list(range(12))).astype(float))
    k = record["chosen"]
    return clips[k], clips[1 - k]


def test_clips_differ_exactly_in_the_defect_frames(pairs):
    out, records = pairs
    for r in records:
        good, bad = decoded(out, r)
        diff = np.abs(good - bad).mean(axis=(1, 2, 3))
        marked = np.isin(np.arange(12), r["meta"]["defect_frames"])
        # after a defect the codec's prediction drifts by ~1 level; a defect costs >= 3.4
        assert diff[marked].min() > 2 * diff[~marked].max(), (r["id"], r["meta"], diff)
        assert diff[~marked].max() < 2.0, (r["id"], r["meta"], diff)


def test_rendered_frames_differ_only_in_the_defect_frames():
    rng = np.random.default_rng(3)
    scene = random_scene(rng)
    good = render_clip(scene)
    for defect in DEFECTS:
        bad = render_clip(scene, defect, [5, 6], np.random.default_rng(0))
        changed = [t for t in range(12) if not np.array_equal(good[t], bad[t])]
        assert changed == [5, 6], defect


def test_each_defect_looks_like_its_name(pairs):
    out, records = pairs
    for r in records:
        good, bad = decoded(out, r)
        t = r["meta"]["defect_frames"][0]
        colour = np.array(COLOURS[r["meta"]["colour"]])

        def near(frame, colour=colour):
            return (np.linalg.norm(frame - colour, axis=2) < 40).sum()
        defect = r["meta"]["defect"]
        if defect == "noise":
            assert bad[t].std() > 50 > good[t].std()
        elif defect == "vanish":
            assert near(bad[t]) < 5 < near(good[t])
        elif defect == "flicker":
            assert near(bad[t]) < 0.2 * near(good[t])
            assert np.linalg.norm(bad[t] - good[t], axis=2).max() > 60  # same place, another colour
        elif defect == "jump":
            ys_g, xs_g = np.nonzero(np.linalg.norm(good[t] - colour, axis=2) < 40)
            ys_b, xs_b = np.nonzero(np.linalg.norm(bad[t] - colour, axis=2) < 40)
            assert np.hypot(xs_g.mean() - xs_b.mean(), ys_g.mean() - ys_b.mean()) > 15


def test_labels(pairs):
    _, records = pairs
    assert {r["meta"]["defect"] for r in records} == set(DEFECTS)
    assert 0.25 <= np.mean([r["chosen"] for r in records]) <= 0.75
    for r in records:
        dims = r["dimension_chosen"]
        hurt = DEFECTS[r["meta"]["defect"]]
        assert dims[hurt] == r["chosen"] and all(v is None for d, v in dims.items() if d != hurt)
        assert 2 <= len(r["meta"]["defect_frames"]) <= 3


def test_same_seed_same_bytes(tmp_path):
    a = make_video_pairs(tmp_path / "a", n=2, seed=5, defects=("noise",))
    b = make_video_pairs(tmp_path / "b", n=2, seed=5, defects=("noise",))
    assert a == b
    for r in a:
        for c in r["candidates"]:
            assert (tmp_path / "a" / c["videos"][0]).read_bytes() == (tmp_path / "b" / c["videos"][0]).read_bytes()


def test_defect_runs_are_seen_by_eight_uniform_samples_of_twelve():
    """The scorer's default (8 frames) always catches a 2-3 frame defect in a 12-frame clip."""
    sampled = set(uniform_indices(12, 8))
    for seed in range(200):
        assert sampled & set(defect_run(np.random.default_rng(seed), 12))


def test_scene_motion_and_prompt():
    scene = random_scene(np.random.default_rng(0), size=64, n_frames=12)
    clip = render_clip(scene)
    assert clip.shape == (12, 64, 64, 3) and clip.dtype == np.uint8
    first, last = scene.box_at(0), scene.box_at(11)
    assert max(abs(first[0] - last[0]), abs(first[1] - last[1])) >= 0.5 * (64 - scene.side)
    assert scene.prompt.startswith(("a ", "an ")) and " moves from " in scene.prompt
    with pytest.raises(ValueError):
        render_clip(scene, "blur", [1])


def test_split_files(tmp_path):
    records = make_video_pairs(tmp_path, n=4, seed=0, test_fraction=0.25, frames=8, size=56)
    lines = [json.loads(x) for f in ("train.jsonl", "test.jsonl") for x in open(tmp_path / f)]
    assert lines == records and sum(1 for _ in open(tmp_path / "test.jsonl")) == 1
