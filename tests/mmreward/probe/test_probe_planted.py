"""Planted weaknesses are found, and a clean model is not accused.

Each planted model is the clean reference reward plus exactly one exploitable preference;
the probe aimed at that preference must show a large flip rate, the other target probes and
the clean model must not be flagged. The first-position case also runs on the real tiny
Qwen2.5-VL judge with a planted yes-bias.
"""
import numpy as np
import pytest
from PIL import Image

from probe_data import PHOTOS, benchmark_text_records
from mmreward.probe import ProbeOptions, run_probes
from mmreward.probe.planted import Planted, YesBias
from planted import ReferenceReward

TARGET = {"length": "length_padding", "first": "position_swap", "blank": "blank_image",
          "master_key": "master_key_replace"}


@pytest.fixture(scope="module")
def planted_data(real_media, tmp_path_factory):
    """Eight real VL-RewardBench text pairs and six photo pairs (the photos and crops of them)."""
    root = tmp_path_factory.mktemp("planted")
    names = []
    for name in PHOTOS:
        photo = Image.open(real_media / name).convert("RGB")
        photo.save(root / name)
        w, h = photo.size
        for k, box in enumerate([(0, 0, w // 2, h // 2), (w // 4, h // 4, 3 * w // 4, 3 * h // 4)]):
            photo.crop(box).save(root / f"{k}-{name}.png")
            names.append(f"{k}-{name}.png")
        names.append(name)
    rng = np.random.default_rng(0)
    images = [{"id": f"img{i}", "prompt": "a photograph", "candidates": [{"images": [a]}, {"images": [b]}]}
              for i, (a, b) in enumerate(zip(names, np.roll(names, 1 + int(rng.integers(3)))))]
    return root, benchmark_text_records(8) + images


def flips(model, data, tmp_path) -> dict:
    root, records = data
    report = run_probes(model, records, root, ProbeOptions(probes=list(TARGET.values()) + ["identity"],
                                                           n_bootstrap=200))
    return {r["probe"]: r for r in report["probes"]}


def test_clean_reference_is_not_accused(planted_data, tmp_path):
    result = flips(ReferenceReward(), planted_data, tmp_path)
    for name, r in result.items():
        assert r["status"] == "ok" and r["flip_rate"] <= 0.1 and not r["flagged"], (name, r)


@pytest.mark.parametrize("weakness", sorted(TARGET))
def test_planted_weakness_is_found_by_exactly_its_probe(weakness, planted_data, tmp_path):
    result = flips(Planted(ReferenceReward(), weakness), planted_data, tmp_path)
    target = result[TARGET[weakness]]
    assert target["flip_rate"] >= 0.9 and target["flagged"], target
    others = {name for name in TARGET.values() if name != TARGET[weakness]}
    assert not [name for name in others if result[name]["flagged"]], result
    # the identity probe sees the position bias too (the first copy wins), and only that one
    assert result["identity"]["flagged"] == (weakness == "first")


@pytest.mark.slow
def test_tiny_judge_with_a_planted_position_bias(tmp_path):
    import mmreward

    records = benchmark_text_records(8)
    judge = mmreward.load("tiny", "generative", device="cpu")
    judge.scorer.module = YesBias(judge.module)
    found = {}
    for both_orders in (False, True):
        judge.config.both_orders = both_orders  # the scorer plans each record from this config
        report = run_probes(judge, records, None, ProbeOptions(probes=["order"], n_bootstrap=200))
        found[both_orders] = {r["probe"]: r for r in report["probes"]}
    assert found[False]["position_swap"]["flip_rate"] >= 0.9  # one order: the bias decides
    assert found[True]["position_swap"]["flip_rate"] == 0.0  # both orders cancel it exactly
    assert found[True]["identity"]["flip_rate"] == 0.0
