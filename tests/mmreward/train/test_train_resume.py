"""Resume proven by weights: for bt, yes-token SFT, traces SFT and GRPO, a run stopped while
writing checkpoint 4 (after checkpoint 2) and resumed ends with the same weights and optimizer
state as an uninterrupted run of the same settings.

The stop is a crash inside the save, at a fixed point (`checkpoints.crash_point`: after the
weights, before the file that completes a checkpoint): for bt a real SIGKILL of a `mmreward train bt` process
(MMREWARD_CRASH_AT), for the others the same point raising in this process. The resumed run
must skip the half-written checkpoint 4, continue from checkpoint 2, and redo steps 3-4.
Deterministic settings (CPU, one thread, fixed seeds); tolerance: 1e-6 absolute on every
weight and optimizer tensor.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmreward.cli import main
from mmreward.train import checkpoints

ATOL = 1e-6


class Killed(BaseException):
    """Stands for SIGKILL inside this process: nothing on the way catches a BaseException."""


@pytest.fixture
def crash_at(monkeypatch):
    """crash_at("checkpoint-4") arms the crash point, crash_at(None) disarms it."""
    def arm(name: str | None):
        def crash(point: str) -> None:
            if point == name:
                raise Killed(point)
        monkeypatch.setattr(checkpoints, "crash_point", crash)
    return arm


def tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a weights or optimizer file, flattened to name -> tensor."""
    if path.suffix == ".safetensors":
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)["state"]
    return {f"{p}.{k}": v for p, s in state.items() for k, v in s.items() if torch.is_tensor(v)}


def assert_same(a: Path, b: Path, files: tuple[str, ...]) -> None:
    for name in files:
        x, y = tensors(a / name), tensors(b / name)
        assert x.keys() == y.keys(), name
        worst = max(float((x[k].float() - y[k].float()).abs().max()) for k in x)
        print(f"{a.name}/{name}: max difference {worst:.3g} over {len(x)} tensors")
        assert worst <= ATOL, f"{name}: max difference {worst:.3g}"


def assert_half_written(out: Path, last: str = "trainer_state.json") -> None:
    """The crash came in the middle of the checkpoint-4 save: weights written, `last` not."""
    staging = out / checkpoints.STAGING / "checkpoint-4"
    assert (staging / "model.safetensors").is_file() and not (staging / last).exists()
    assert (out / "checkpoint-2" / last).is_file() and not (out / "checkpoint-4").exists()


def assert_resumed_from_2(capfd) -> None:
    err = capfd.readouterr().err
    assert "skipping incomplete checkpoint" in err and "resuming from" in err and "checkpoint-2 (step 2)" in err


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from mmreward.synth.images import make_image_pairs

    root = tmp_path_factory.mktemp("resume_pairs")
    make_image_pairs(root, 8, seed=5, size=56, differ="colour")
    return root


def preference_args(stage: list[str], pairs: Path, out: Path) -> list[str]:
    # 8 pairs, 2 a step: 4 steps in one epoch, checkpoints at steps 2 and 4
    return ["train", *stage, "--data", str(pairs / "pairs.jsonl"), "--media-root", str(pairs), "--out", str(out),
            "--batch-size", "2", "--max-steps", "4", "--save-steps", "2", "--lr", "1e-3", "--logging-steps", "1"]


TRAINER_FILES = ("model.safetensors", "optimizer.pt")


@pytest.mark.slow
def test_bt_killed_during_a_checkpoint_save_resumes_to_the_same_weights(pairs, tmp_path, capfd):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    # a real SIGKILL, at the same point of the checkpoint-4 save on every run
    killed = subprocess.Popen([sys.executable, "-m", "mmreward.cli", *preference_args(["bt"], pairs, cut)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1", checkpoints.CRASH_ENV: "checkpoint-4"})
    assert main(preference_args(["bt"], pairs, whole)) == 0  # the uninterrupted run, meanwhile
    _, stderr = killed.communicate(timeout=600)
    assert killed.returncode == -9, stderr[-2000:]
    assert_half_written(cut)
    capfd.readouterr()
    assert main(preference_args(["bt"], pairs, cut) + ["--resume"]) == 0
    assert_resumed_from_2(capfd)
    assert_same(whole / "checkpoint-4", cut / "checkpoint-4", TRAINER_FILES + ("reward_head.safetensors",))
    assert_same(whole, cut, ("model.safetensors", "reward_head.safetensors"))
    steps = json.loads((cut / "checkpoint-4" / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in steps if "loss" in h] == [1, 2, 3, 4]


@pytest.mark.slow
def test_yes_token_sft_resumes_from_a_sharded_checkpoint_to_the_same_weights(pairs, tmp_path, capfd, crash_at):
    from mmreward.models.backbone import BackboneOptions, load_backbone

    stage = ["sft", "--objective", "yes-token", "--form", "pointwise"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(preference_args(stage, pairs, whole)) == 0
    crash_at("checkpoint-4")
    with pytest.raises(Killed):
        main(preference_args(stage, pairs, cut))
    assert_half_written(cut)
    crash_at(None)
    # checkpoint 2 re-saved in shards, as a model over the shard size is saved
    backbone, _, _ = load_backbone(str(cut / "checkpoint-2"), BackboneOptions(device="cpu"))
    (cut / "checkpoint-2" / "model.safetensors").unlink()
    backbone.save_pretrained(cut / "checkpoint-2", max_shard_size="5MB")
    checkpoints.write_manifest(cut / "checkpoint-2")  # as a checkpoint saved in shards lists its files
    assert len(list((cut / "checkpoint-2").glob("model-*-of-*.safetensors"))) > 1
    capfd.readouterr()
    assert main(preference_args(stage, pairs, cut) + ["--resume"]) == 0
    assert_resumed_from_2(capfd)
    assert_same(whole / "checkpoint-4", cut / "checkpoint-4", TRAINER_FILES)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from agent_fixtures import write_clips

    folder = tmp_path_factory.mktemp("resume_clips")
    return folder, write_clips(folder)


@pytest.mark.slow
def test_trace_sft_resumes_to_the_same_weights(clips, tmp_path, capfd, crash_at):
    from agent_fixtures import CONFIG, scripted, tiny
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces

    folder, videos = clips
    traces = [scripted(videos, id=f"t{i}") for i in range(2)]  # 6 turn sequences, 1 a step

    def run(out: Path, resume: bool = False):
        policy, processor = tiny()
        cfg = TraceSFTConfig(output_dir=str(out), max_steps=4, save_steps=2, per_device_train_batch_size=1,
                             learning_rate=1e-3, logging_steps=1, resume=resume)
        return train_on_traces(traces, policy, processor, CONFIG, cfg, media_root=folder)

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(whole)
    crash_at("checkpoint-4")
    with pytest.raises(Killed):
        run(cut)
    assert_half_written(cut)
    crash_at(None)
    capfd.readouterr()
    assert run(cut, resume=True).global_step == 4
    assert_resumed_from_2(capfd)
    assert_same(whole / "checkpoint-4", cut / "checkpoint-4", TRAINER_FILES)
    assert_same(whole, cut, ("model.safetensors",))


@pytest.mark.slow
def test_grpo_resumes_to_the_same_weights(clips, tmp_path, capfd, crash_at):
    from agent_fixtures import CONFIG, LABELS, tiny
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from one_step_runs import planted_reward

    folder, videos = clips
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    items = [{"id": "a", "prompt": "a ball rolls", "videos": videos, "labels": LABELS}]

    def run(out: Path, resume: bool = False):
        policy, processor = tiny()
        ref, _ = tiny()
        policy.train()
        cfg = GRPOConfig(out=str(out), steps=4, save_steps=2, items_per_step=1, group_size=2, lr=1e-3,
                         beta=0.04, resume=resume)
        return train_grpo(policy, processor, ref, items, agent_cfg, cfg, media_root=folder,
                          reward_fn=planted_reward)

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    run(whole)
    crash_at("checkpoint-4")
    with pytest.raises(Killed):
        run(cut)
    assert_half_written(cut, last="grpo_state.json")
    crash_at(None)
    capfd.readouterr()
    run(cut, resume=True)
    assert_resumed_from_2(capfd)
    assert_same(whole / "checkpoint-4", cut / "checkpoint-4", ("model.safetensors", "optimizer.bin"))
    assert_same(whole, cut, ("model.safetensors",))
    log = [json.loads(x) for x in (cut / "grpo_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
