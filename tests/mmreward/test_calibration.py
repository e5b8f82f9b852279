"""Calibration: ECE, the temperature fit, and calibrated checkpoints that round-trip."""
import json

import numpy as np
import pytest
import torch

import mmreward
from mmreward.calibration import calibrate, ece, evaluate, fit_inverse_temperature
from mmreward.cli import main


def test_ece_by_hand():
    # confidences 0.9, 0.9, 0.6, 0.8 (the last prefers the second side, which is the chosen one)
    p_first = [0.9, 0.9, 0.6, 0.2]
    first_chosen = [True, False, True, False]
    value, table = ece(p_first, first_chosen, bins=10)
    # bin [0.9, 0.95): conf 0.9, 1 of 2 right; [0.6, 0.65): 0.6, right; [0.8, 0.85): 0.8, right
    assert value == pytest.approx(2 / 4 * 0.4 + 1 / 4 * 0.4 + 1 / 4 * 0.2)
    assert [row["n"] for row in table] == [0, 0, 1, 0, 0, 0, 1, 0, 2, 0]


def test_temperature_fit_recovers_an_over_confident_scale():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-z))  # calibrated at scale 1
    b = fit_inverse_temperature(4.0 * z, labels)  # the model reports 4x the true logit
    assert 1 / b == pytest.approx(4.0, rel=0.05)
    # a judge worse than chance: likelihood grows without bound in T; the fit stops at the bound
    assert 1 / fit_inverse_temperature(4.0 * z, ~labels) == pytest.approx(100.0)


def _over_confident(judge, gain: float):
    """Multiply the final norm's gain: every logit x gain, same ranking, gain x the confidence."""
    with torch.no_grad():
        judge.module.backbone.model.language_model.norm.weight.mul_(gain)
    return judge


@pytest.mark.slow
def test_temperature_lowers_ece_and_round_trips(image_pairs, tmp_path):
    root, records = image_pairs
    fit_set, held_out = records[:16], records[16:]
    judge = _over_confident(mmreward.load("tiny", "generative", device="cpu", both_orders=False), 6.0)
    assert "calibrated" not in judge.info
    raw = judge.score(held_out, media_root=root)
    before = evaluate(judge, held_out, root)
    report = calibrate(judge, fit_set, root, source="fit.jsonl")
    t = report["params"]["temperature"]
    assert t > 1  # it was over-confident
    assert report["fit"]["after"]["ece"] < report["fit"]["before"]["ece"]
    assert evaluate(judge, held_out, root)["ece"] < before["ece"]  # and on records it was not fitted on
    calibrated = judge.score(held_out, media_root=root)
    for r, c in zip(raw, calibrated):  # P(yes) = sigmoid(logit / T), exactly what was fitted
        logit = np.log(r["p_yes"][0] / (1 - r["p_yes"][0]))
        assert c["p_yes"][0] == pytest.approx(1 / (1 + np.exp(-logit / t)), abs=1e-5)

    judge.save_pretrained(tmp_path / "ckpt")
    saved = json.loads((tmp_path / "ckpt" / "reward_config.json").read_text())
    assert saved["temperature"] == pytest.approx(t) and saved["calibration"]["method"] == "temperature"
    loaded = mmreward.load(tmp_path / "ckpt", device="cpu")
    assert loaded.info["calibrated"]["temperature"] == pytest.approx(t)
    assert loaded.info["calibrated"]["fitted_on"] == "fit.jsonl"
    for c, again in zip(calibrated, loaded.score(held_out, media_root=root)):
        assert again["rewards"] == pytest.approx(c["rewards"], abs=1e-6)


@pytest.mark.slow
def test_calibrate_command_normalises_a_scalar_model(scalar_rm, image_pairs, tmp_path, capsys):
    root, records = image_pairs
    fit, held = tmp_path / "fit.jsonl", tmp_path / "held.jsonl"
    fit.write_text("".join(json.dumps(r) + "\n" for r in records[:16]))
    held.write_text("".join(json.dumps(r) + "\n" for r in records[16:]))
    out, ckpt = tmp_path / "out", tmp_path / "ckpt"
    rc = main(["calibrate", "--model", "tiny", "--mode", "scalar", "--device", "cpu", "--data", str(fit),
               "--eval-data", str(held), "--media-root", str(root), "--out", str(out), "--save-to", str(ckpt)])
    assert rc == 0
    assert "ECE" in capsys.readouterr().err
    report = json.loads((out / "calibration.json").read_text())
    mean, std = report["params"]["normalization"]["overall"]
    raw = [r for o in scalar_rm.score(records[:16], media_root=root) for r in o["rewards"]]
    assert (mean, std) == pytest.approx((np.mean(raw), np.std(raw)), rel=1e-4)
    assert set(report["eval"]) == {"before", "after"} and (out / "reliability.png").is_file()
    assert json.loads((out / "reward_config.json").read_text())["normalization"]["overall"] == [mean, std]
    loaded = mmreward.load(ckpt, device="cpu")
    assert loaded.info["calibrated"]["method"] == "normalization"
    for r, z in zip(scalar_rm.score(records[16:], media_root=root), loaded.score(records[16:], media_root=root)):
        assert z["rewards"] == pytest.approx([(v - mean) / std for v in r["rewards"]], abs=1e-5)


def test_calibrate_needs_preference_records(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "candidates": [{"text": "a"}]}) + "\n")
    from mmreward.calibration import labelled
    from mmreward.errors import InputError

    with pytest.raises(InputError, match="chosen"):
        labelled([json.loads(data.read_text())])
    assert main(["calibrate", "--model", str(tmp_path / "never"), "--data", str(tmp_path / "none.jsonl"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--data" in capsys.readouterr().err
