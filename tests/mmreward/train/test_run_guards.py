"""What a training run refuses to do: share its --out with another run (a lock on the resolved path),
start over on top of an earlier run without being told, resume from a damaged checkpoint (it falls
back to the previous complete one; `score --model` on the damaged one is a one-line error), go on
after its loss or a weight stops being finite (nothing non-finite is saved)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmreward.cli import main
from mmreward.errors import ConfigError
from mmreward.train import checkpoints, run_dir


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    from mmreward.synth.images import make_image_pairs

    root = tmp_path_factory.mktemp("guard_pairs")
    make_image_pairs(root, 8, seed=5, size=56, differ="colour")
    return root


def bt(pairs: Path, out, *extra: str) -> list[str]:
    return ["train", "bt", "--data", str(pairs / "pairs.jsonl"), "--media-root", str(pairs), "--out", str(out),
            "--batch-size", "2", "--max-steps", "4", "--save-steps", "2", "--lr", "1e-3", *extra]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_second_run_into_the_same_out_is_refused_even_through_a_symlink(pairs, tmp_path, capsys):
    from mmreward.scoring.lock import OutputLock

    out = tmp_path / "runs" / "bt"
    out.mkdir(parents=True)
    (tmp_path / "alias").symlink_to(out)
    with OutputLock(out.resolve()):  # what the first run holds while it trains
        assert main(bt(pairs, tmp_path / "alias", "--model", str(tmp_path / "never-loaded"))) == 2
    err = one_line(capsys)
    assert "another training run is using it" in err and f"pid {os.getpid()}" in err
    assert not any(out.iterdir())  # the refused run wrote nothing


def test_an_out_holding_a_run_needs_resume_or_overwrite(pairs, tmp_path, capsys):
    out = tmp_path / "bt"
    (out / "checkpoint-2").mkdir(parents=True)
    (out / "train_log.jsonl").write_text("{}\n")
    (out / "notes.txt").write_text("mine")
    assert main(bt(pairs, out, "--model", str(tmp_path / "never-loaded"))) == 2
    err = one_line(capsys)
    assert "already holds a training run (checkpoint-2, train_log.jsonl)" in err and "--resume" in err \
        and "--overwrite" in err
    with pytest.raises(ConfigError, match="give one of them"):
        run_dir.check_out(out, resume=True, overwrite=True)
    run_dir.check_out(out, resume=True, overwrite=False)  # continuing it is what --resume is for
    assert (out / "checkpoint-2").is_dir()
    run_dir.check_out(out, resume=False, overwrite=True)  # starting over removes the run, nothing else
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    run_dir.check_out(tmp_path / "new", resume=False, overwrite=False)  # a new or empty folder is fine


def test_a_damaged_file_makes_resume_skip_that_checkpoint(tmp_path, capsys):
    class OneProcess:
        is_main_process = True

        def wait_for_everyone(self):
            pass

    for step in (2, 4):
        staging = checkpoints.begin(tmp_path, f"checkpoint-{step}", OneProcess())
        for name in ("model.safetensors", "reward_head.safetensors", "optimizer.pt", "trainer_state.json"):
            (staging / name).write_bytes(b"x" * 100)
        checkpoints.commit(tmp_path, f"checkpoint-{step}", OneProcess())
    assert json.loads((tmp_path / "checkpoint-4" / checkpoints.MANIFEST).read_text())["files"]["optimizer.pt"] == 100
    for name in ("reward_head.safetensors", "optimizer.pt", "model.safetensors"):
        os.truncate(tmp_path / "checkpoint-4" / name, 60)
        assert checkpoints.resume_point(tmp_path, "trainer_state.json") == tmp_path / "checkpoint-2"
        assert f"skipping {tmp_path / 'checkpoint-4'}: {name} is damaged (60 bytes, 100" in capsys.readouterr().err
        (tmp_path / "checkpoint-4" / name).write_bytes(b"x" * 100)
    (tmp_path / "checkpoint-4" / "optimizer.pt").unlink()
    assert checkpoints.resume_point(tmp_path, "trainer_state.json") == tmp_path / "checkpoint-2"
    assert "optimizer.pt is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_a_truncated_model_in_the_newest_checkpoint(pairs, tmp_path, capsys):
    out = tmp_path / "bt"
    assert main(bt(pairs, out)) == 0
    weights = out / "checkpoint-4" / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)
    capsys.readouterr()
    scored = tmp_path / "scores.jsonl"
    assert main(["score", "--model", str(out / "checkpoint-4"), "--input", str(pairs / "pairs.jsonl"),
                 "--media-root", str(pairs), "--output", str(scored)]) == 2
    assert "a weights file is damaged (truncated" in one_line(capsys)
    assert main(bt(pairs, out, "--resume")) == 0  # from checkpoint 2, redoing steps 3 and 4
    err = capsys.readouterr().err
    assert "model.safetensors is damaged" in err and "resuming from" in err and "checkpoint-2 (step 2)" in err
    assert checkpoints.damaged(out / "checkpoint-4") is None  # written again, whole
    assert [s["step"] for s in json.loads((out / "train_summary.json").read_text())["log"]] == [1, 2, 3, 4]


def all_finite(folder: Path) -> bool:
    files = list(folder.rglob("*.safetensors"))
    return all(torch.isfinite(t).all() for f in files for t in load_file(str(f)).values())


@pytest.mark.slow
def test_a_non_finite_loss_stops_training_and_nothing_non_finite_is_saved(pairs, tmp_path, capsys):
    out = tmp_path / "bt"
    capsys.readouterr()
    assert main(bt(pairs, out, "--lr", "1e38", "--max-grad-norm", "0", "--save-steps", "1")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "training stopped at step" in err and "not finite" in err and "--lr" in err
    assert not (out / "model.safetensors").exists()  # no final model
    assert all(all_finite(c) for c in out.glob("checkpoint-*"))
    logged = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in logged)  # the bad step is not logged as a number


@pytest.mark.slow
def test_grpo_stops_on_a_non_finite_weight(tmp_path):
    from agent_fixtures import CONFIG, LABELS, tiny, write_clips
    from mmreward.errors import TrainingError
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from one_step_runs import planted_reward

    videos = write_clips(tmp_path)
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    policy, processor = tiny()
    with torch.no_grad():
        policy.lm_head.weight[0, 0] = float("nan")  # as a step that overflowed would leave it
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=2, items_per_step=1, group_size=2, beta=0.0, save_steps=1)
    items = [{"id": "a", "prompt": "p", "videos": videos, "labels": LABELS}]
    with pytest.raises(TrainingError, match="step 1: the loss is not finite|step 1: a weight is not finite"):
        train_grpo(policy, processor, None, items, agent_cfg, cfg, media_root=str(tmp_path), reward_fn=planted_reward)
    assert not list((tmp_path / "grpo").glob("checkpoint-*")) and not (tmp_path / "grpo" / "model.safetensors").exists()
