"""bt and yes-token SFT through the real CLI on a few synthetic pairs: loss falls, output loads, resume."""
import json

import pytest
import torch

import mmreward
from mmreward.cli import main


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from mmreward.synth.images import make_image_pairs

    root = tmp_path_factory.mktemp("train")
    make_image_pairs(root, 8, seed=11, size=56, differ="colour")
    return root


def _train(stage_args, root, out, *extra):
    rc = main(["train", *stage_args, "--data", str(root / "pairs.jsonl"), "--media-root", str(root),
               "--out", str(out), "--batch-size", "4", "--lr", "1e-3", "--logging-steps", "1",
               "--warmup-ratio", "0", *extra])
    assert rc == 0
    return json.loads((out / "train_summary.json").read_text())


@pytest.mark.slow
def test_bt_loss_falls_and_the_saved_model_scores_like_the_trained_one(pairs, tmp_path):
    out = tmp_path / "bt"
    summary = _train(["bt"], pairs, out, "--max-steps", "16", "--save-steps", "1000")
    assert summary["final_loss"] < summary["first_loss"] - 0.1
    assert (out / "reward_head.safetensors").is_file() and (out / "config.json").is_file()
    records = [json.loads(x) for x in (pairs / "pairs.jsonl").read_text().splitlines()]
    trained = mmreward.load(out, device="cpu").score(records, media_root=pairs)
    right = sum(o["rewards"][r["chosen"]] > o["rewards"][1 - r["chosen"]] for o, r in zip(trained, records))
    assert right >= 7  # it has fitted its 8 training pairs


@pytest.mark.slow
def test_bt_resumes_from_its_last_checkpoint(pairs, tmp_path):
    out = tmp_path / "bt"
    _train(["bt"], pairs, out, "--max-steps", "4", "--save-steps", "2")
    assert (out / "checkpoint-4" / "reward_head.safetensors").is_file()
    summary = _train(["bt"], pairs, out, "--max-steps", "6", "--save-steps", "2", "--resume")
    assert summary["steps"] == 6
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_yes_token_loss_falls_on_a_fixed_batch(pairs):
    from mmreward.scoring.media import MediaOptions
    from mmreward.scoring.records import load_item
    from mmreward.train.reward.sft_yes_token import AnswerLogits, YesNoCollator, yes_no_loss

    rm = mmreward.load("tiny", "generative", device="cpu")
    records = [json.loads(x) for x in (pairs / "pairs.jsonl").read_text().splitlines()][:4]
    batch = YesNoCollator(rm.processor, "pointwise")(
        [(load_item(r, MediaOptions(media_root=pairs)), r) for r in records])
    assert batch["yes"].tolist() == [v for r in records for v in (r["chosen"] == 0, r["chosen"] == 1)]
    opt = torch.optim.Adam(rm.module.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        loss, _ = yes_no_loss(AnswerLogits(rm.module), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(0.69, abs=0.1)  # a random model is near chance
    assert losses[-1] < 0.35


@pytest.mark.slow
def test_yes_token_sft_cli_with_lora_writes_a_generative_adapter_checkpoint(pairs, tmp_path):
    out = tmp_path / "yes"
    summary = _train(["sft", "--objective", "yes-token", "--form", "pointwise"], pairs, out,
                     "--max-steps", "4", "--save-steps", "1000", "--lora-r", "4", "--lora-save", "adapters")
    assert summary["steps"] == 4 and summary["final_loss"] is not None
    assert (out / "adapter_model.safetensors").is_file() and not (out / "config.json").exists()
    rm = mmreward.load(out, device="cpu")
    assert rm.config.mode == "generative" and rm.config.form == "pointwise"
    records = [json.loads(x) for x in (pairs / "pairs.jsonl").read_text().splitlines()]
    outs = rm.score(records, media_root=pairs)
    assert all(len(o["p_yes"]) == 2 and all(0.0 <= p <= 1.0 for p in o["p_yes"]) for o in outs)
    assert all(o["rewards"] == o["p_yes"] for o in outs)
