"""LoRA on the training stages: only the adapters (and a scalar head) train, the vision tower and every
base weight stay as they were; the final model is written merged or as PEFT adapters and
`mmreward.load` reads both to the same scores; a run resumes from its adapter checkpoints; GRPO's
reference is the policy with its adapters switched off, and an engine is given its merged weights."""
from __future__ import annotations

import json

import pytest
import torch
from agent_fixtures import changed_weights, only_adapted

import mmreward
from mmreward.cli import main


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from mmreward.synth.images import make_image_pairs

    root = tmp_path_factory.mktemp("lora_pairs")
    make_image_pairs(root, 8, seed=11, size=56, differ="colour")
    return root


def bt(pairs, out, *extra) -> int:
    return main(["train", "bt", "--data", str(pairs / "pairs.jsonl"), "--media-root", str(pairs), "--out", str(out),
                 "--batch-size", "4", "--max-steps", "2", "--save-steps", "1", "--lr", "1e-2", "--warmup-ratio", "0",
                 "--lora-r", "4", *extra])


@pytest.mark.slow
def test_lora_bt_trains_adapters_and_head_and_both_saved_forms_score_alike(pairs, tmp_path, capsys):
    adapters, merged = tmp_path / "adapters", tmp_path / "merged"
    assert bt(pairs, adapters, "--lora-save", "adapters") == 0
    assert bt(pairs, merged) == 0
    assert (adapters / "adapter_model.safetensors").is_file() and not (adapters / "config.json").exists()
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    assert only_adapted(changed_weights(merged))
    records = [json.loads(x) for x in (pairs / "pairs.jsonl").read_text().splitlines()]
    a = mmreward.load(adapters, device="cpu").score(records, media_root=pairs)
    m = mmreward.load(merged, device="cpu").score(records, media_root=pairs)
    assert all(abs(x - y) < 1e-5 for oa, om in zip(a, m) for x, y in zip(oa["rewards"], om["rewards"]))
    assert not any("untrained_head" in o for o in a)
    # what the run held: the frozen base, and gradients and AdamW moments of the adapters and head only
    held = json.loads((adapters / "train_summary.json").read_text())["memory_per_process"][0]
    capsys.readouterr()
    assert main(["train", "bt", "--data", "d", "--out", "o", "--lora-r", "4", "--plan", "--format", "json",
                 "--plan-gpus", "1"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {k: plan[k] for k in held} == held
    assert held["grads_bytes"] < held["params_bytes"] / 100
    # resuming reads the adapters and the head of the newest checkpoint back
    assert bt(pairs, adapters, "--lora-save", "adapters", "--resume", "--max-steps", "3") == 0
    assert json.loads((adapters / "train_summary.json").read_text())["steps"] == 3
    assert [s["step"] for s in json.loads((adapters / "train_summary.json").read_text())["log"]] == [1, 2, 3]


@pytest.mark.slow
def test_the_reference_is_the_base_with_the_adapters_off_and_the_merged_weights_are_the_policy():
    from agent_fixtures import tiny
    from mmreward.train.lora import LoraOptions, adapters_disabled, merged_state_dict, prepare

    base, _ = tiny()
    policy, _ = tiny()
    prepare(policy, LoraOptions(lora_r=4, lora_dropout=0.0))
    assert not any(p.requires_grad for p in policy.model.visual.parameters())
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_()  # adapters that change the outputs (a fresh lora_B is zero)
    ids = torch.tensor([[151644, 872, 198, 9707, 151645]])
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        assert not torch.allclose(policy(input_ids=ids).logits, plain, atol=1e-3)
        with adapters_disabled(policy):
            assert torch.equal(policy(input_ids=ids).logits, plain)
        assert not torch.allclose(policy(input_ids=ids).logits, plain, atol=1e-3)  # switched back on
    # what an inference engine is given: the base architecture's names, the adapters merged in
    weights = merged_state_dict(policy)
    assert weights.keys() == base.state_dict().keys()
    base.load_state_dict(weights)
    with torch.no_grad():
        assert torch.allclose(base(input_ids=ids).logits, policy(input_ids=ids).logits, atol=1e-5)


@pytest.mark.slow
def test_grpo_with_lora_uses_no_second_model_and_writes_a_merged_policy(tmp_path):
    from agent_fixtures import CONFIG, LABELS, tiny, write_clips
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from mmreward.train.lora import LoraOptions
    from one_step_runs import planted_reward

    videos = write_clips(tmp_path)
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    policy, processor = tiny()
    policy.train()
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=2, items_per_step=1, group_size=2, lr=1e-2, beta=0.5,
                     save_steps=1)
    items = [{"id": "a", "prompt": "p", "videos": videos, "labels": LABELS}]
    train_grpo(policy, processor, None, items, agent_cfg, cfg, media_root=str(tmp_path), reward_fn=planted_reward,
               lora=LoraOptions(lora_r=4, lora_dropout=0.0))
    log = [json.loads(x) for x in (tmp_path / "grpo" / "grpo_log.jsonl").read_text().splitlines()]
    assert log[0]["kl"] == 0.0 and log[1]["kl"] > 0  # a fresh adapter is the base; one step later it is not
    assert (tmp_path / "grpo" / "checkpoint-2" / "model.safetensors").is_file()  # accelerate's own state
    merged, _, _ = load_backbone(str(tmp_path / "grpo"), BackboneOptions(device="cpu"))
    assert not hasattr(merged, "peft_config")  # an ordinary checkpoint
