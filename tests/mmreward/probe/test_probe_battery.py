"""Every probe runs on the tiny scalar (with VQ/MQ/TA heads), the tiny generative judge and a
CLIP-family reward (CLIPScore on the tiny CLIP),
on the real photos and video frames; what does not apply says why; the report files are written.
"""
import json

import pytest

from mmreward.probe import ALL_PROBES, probe
from mmreward.scoring.base import BaseRewardModel

SMALL = 64 * 28 * 28  # image pixel bound: 64 visual tokens per photo keeps the battery fast on CPU


def assert_battery_runs(model, records, root, out) -> dict:
    report = probe(model, records, root, out, n_bootstrap=100)
    by_name = {r["probe"]: r for r in report["probes"]}
    assert list(by_name) == [p.name for p in ALL_PROBES]  # every probe reported, in order
    for name, r in by_name.items():
        assert r["status"] == "ok", (name, r)
        assert r["n_records"] >= 1 and r["n_cases"] >= r["n_records"]
        assert r["flip_ci"] is None or r["flip_ci"][0] <= r["flip_rate"] <= r["flip_ci"][1]
        assert r["shift_ci"][0] <= r["shift"] <= r["shift_ci"][1]
    assert json.loads((out / "probe.json").read_text())["probes"][0]["probe"] == "position_swap"
    table = (out / "probe.md").read_text()
    assert all(f"| {p.name} |" in table for p in ALL_PROBES)
    assert (out / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return by_name


@pytest.mark.slow
def test_battery_on_tiny_scalar_with_dimensions(real_media, battery_records, tmp_path):
    import mmreward

    rm = mmreward.load("tiny", "scalar", dimensions=["VQ", "MQ", "TA"], device="cpu", max_pixels=SMALL)
    result = assert_battery_runs(rm, battery_records, real_media, tmp_path)
    assert result["position_swap"]["flip_rate"] == 0.0  # a pointwise head cannot see positions
    assert result["identity"]["flip_rate"] == 0.0
    # the video probes are reported per named dimension
    assert set(result["video_frozen"]["dimensions"]) == {"VQ", "MQ", "TA"}
    assert result["master_key_replace"]["n_cases"] == 2 * 10  # two text records x ten keys
    md = (tmp_path / "probe.md").read_text()
    assert "video_frozen / MQ" in md


@pytest.mark.slow
def test_battery_on_tiny_generative(real_media, battery_records, tmp_path):
    import mmreward

    judge = mmreward.load("tiny", "generative", device="cpu", max_pixels=SMALL)
    result = assert_battery_runs(judge, battery_records, real_media, tmp_path)
    assert result["position_swap"]["flip_rate"] == 0.0  # both orders asked: the order cancels
    assert result["identity"]["shift"] == pytest.approx(0.0, abs=1e-6)


class ImageOnly(BaseRewardModel):
    """Scores images by mean brightness: a stand-in for an image-only reward."""

    kind = "clip"

    def score_chunk(self, records, media_root=None, batch_size=8):
        import numpy as np

        from mmreward.scoring.media import MediaOptions, open_image

        out = []
        for rec in records:
            if any(c.get("videos") for c in rec["candidates"]):
                out.append({"id": rec.get("id"), "error": "this reward scores images only"})
                continue
            r = [float(np.mean([np.asarray(open_image(v, MediaOptions(media_root=media_root))).mean()
                                for v in c["images"]])) if c.get("images") else 0.0 for c in rec["candidates"]]
            out.append({"id": rec.get("id"), "rewards": r, "preferred": int(np.argmax(r))})
        return out


def test_what_does_not_apply_is_reported_with_its_reason(real_media, battery_records, tmp_path):
    photos = [r for r in battery_records if r["id"] in ("photo", "vqa")]
    report = probe(ImageOnly(), photos, real_media, tmp_path, n_bootstrap=50)
    by_name = {r["probe"]: r for r in report["probes"]}
    assert len(by_name) == len(ALL_PROBES)
    assert by_name["master_key_replace"]["status"] == "not_applicable"
    assert "never reads candidate text" in by_name["master_key_replace"]["reason"]
    assert by_name["video_frozen"] == {**by_name["video_frozen"], "status": "not_applicable",
                                       "reason": "no record has candidate videos"}
    assert by_name["blank_image"]["status"] == "ok" and by_name["blank_image"]["flip_rate"] == 1.0  # white wins
    assert "not applicable: no record has candidate videos" in (tmp_path / "probe.md").read_text()
    # records that would fit but that the model cannot score: the reason says so
    report = probe(ImageOnly(), [battery_records[3]], real_media, tmp_path, probes=["video"], n_bootstrap=50)
    assert report["probes"][0]["reason"].startswith("the records with candidate videos could not be scored")


def test_bad_records_are_listed_and_cost_nothing_else(real_media, battery_records, tmp_path):
    records = [battery_records[0], {"id": "bad", "prompt": "x", "candidates": [{"images": ["missing.png"]}]},
               {"no": "prompt"}]
    report = probe(ImageOnly(), records, real_media, tmp_path, probes=["image"], n_bootstrap=50)
    assert report["records"]["usable"] == 1
    assert [e["record"] for e in report["records"]["errors"]] == [1, 2]
    assert "missing.png" in report["records"]["errors"][0]["error"]
    assert all(r["n_records"] == 1 for r in report["probes"] if r["status"] == "ok")


@pytest.mark.slow
def test_battery_on_a_clip_family_reward(real_media, battery_records, tmp_path):
    import mmreward
    from vision.tiny_clip import tiny_clip_path

    photos = [battery_records[0], {**battery_records[0], "id": "swapped", "prompt": "a wooden pier on a calm lake",
                                   "candidates": battery_records[0]["candidates"][::-1]},
              {"id": "one", "prompt": "a lake", "candidates": [{"images": ["waterview.jpg"]}]}]
    rm = mmreward.load(f"clipscore@{tiny_clip_path()}")
    by_name = {r["probe"]: r for r in probe(rm, photos + battery_records[1:], real_media, tmp_path,
                                            n_bootstrap=100)["probes"]}
    for p in ALL_PROBES:
        r = by_name[p.name]
        if p.family == "text":
            assert r["status"] == "not_applicable" and "does not read candidate text" in r["reason"]
        elif p.family == "video":  # its record is an error line for an image reward, and says so
            assert r["status"] == "not_applicable" and "could not be scored" in r["reason"]
        else:
            assert r["status"] == "ok" and r["n_records"] >= 1, (p.name, r)
    assert by_name["position_swap"]["flip_rate"] == 0.0  # scored one image at a time
