"""Atomic checkpoints (staging folder, rename into place), which checkpoint a resume picks, and
strict weight loading: sharded checkpoints load, checkpoints whose keys do not match are refused."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from mmreward.errors import InputError
from mmreward.train import checkpoints


class OneProcess:
    is_main_process = True

    def wait_for_everyone(self):
        pass


def write_checkpoint(out, step: int, state: dict) -> None:
    name = f"checkpoint-{step}"
    staging = checkpoints.begin(out, name, OneProcess())
    (staging / "state.json").write_text(json.dumps(state))
    checkpoints.commit(out, name, OneProcess())


def test_a_checkpoint_appears_only_when_complete_and_a_rerun_replaces_it(tmp_path):
    write_checkpoint(tmp_path, 2, {"v": 1})
    assert json.loads((tmp_path / "checkpoint-2" / "state.json").read_text()) == {"v": 1}
    assert not (tmp_path / checkpoints.STAGING).exists()  # nothing left behind
    # a save that stops half way: its files are in the staging folder only
    partial = checkpoints.begin(tmp_path, "checkpoint-4", OneProcess())
    (partial / "model.safetensors").write_bytes(b"half")
    assert not (tmp_path / "checkpoint-4").exists()
    # the next save of that step starts from an empty staging folder
    write_checkpoint(tmp_path, 4, {"v": 2})
    assert sorted(p.name for p in (tmp_path / "checkpoint-4").iterdir()) == [checkpoints.MANIFEST, "state.json"]
    write_checkpoint(tmp_path, 4, {"v": 3})  # the same step saved again replaces the old folder
    assert json.loads((tmp_path / "checkpoint-4" / "state.json").read_text()) == {"v": 3}


def test_resume_picks_the_newest_complete_checkpoint_and_says_why_it_skips_others(tmp_path, capsys):
    assert checkpoints.resume_point(tmp_path, "state.json") is None
    assert "no complete checkpoint" in capsys.readouterr().err
    for step in (2, 10):
        write_checkpoint(tmp_path, step, {})
    (tmp_path / "checkpoint-12").mkdir()  # written by a non-atomic saver that died: no state file
    checkpoints.begin(tmp_path, "checkpoint-14", OneProcess())  # a kill during our own save
    (tmp_path / "checkpoint-x").mkdir()  # not a checkpoint name
    assert checkpoints.resume_point(tmp_path, "state.json") == tmp_path / "checkpoint-10"  # 10 > 2, by number
    err = capsys.readouterr().err
    assert "skipping incomplete checkpoint" in err and "checkpoint-14" in err
    assert "checkpoint-12: it has no state.json" in err
    assert "resuming from" in err and "checkpoint-10 (step 10)" in err


@pytest.fixture(scope="module")
def backbone():
    from mmreward.models.backbone import BackboneOptions, load_backbone

    model, _, _ = load_backbone("tiny", BackboneOptions(device="cpu"))
    with torch.no_grad():  # weights that differ from the tiny checkpoint's, so that a load shows
        for p in model.parameters():
            p.add_(0.01)
    return model


@pytest.mark.slow
def test_a_sharded_checkpoint_loads_exactly(backbone, tmp_path):
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.models.reward_module import load_weights_strictly

    backbone.save_pretrained(tmp_path, max_shard_size="5MB")
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1
    fresh, _, _ = load_backbone("tiny", BackboneOptions(device="cpu"))
    load_weights_strictly(fresh, tmp_path)
    expected = backbone.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in fresh.state_dict().items())


def test_a_checkpoint_whose_keys_do_not_match_is_an_error_not_a_partial_load(backbone, tmp_path):
    from mmreward.models.reward_module import load_weights_strictly

    backbone.save_pretrained(tmp_path)
    weights = load_file(str(tmp_path / "model.safetensors"))
    key = next(k for k in weights if k.endswith("mlp.up_proj.weight"))
    weights[key.replace("up_proj", "upper_proj")] = weights.pop(key)  # a layout this model does not have
    save_file(weights, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    with pytest.raises(InputError, match="does not match the model") as err:
        load_weights_strictly(backbone, tmp_path)
    assert "missing keys" in str(err.value) and "unexpected keys" in str(err.value) and "up_proj" in str(err.value)
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())  # untouched


@pytest.mark.slow
def test_resuming_a_reward_model_needs_its_head(tmp_path):
    import mmreward

    rm = mmreward.load("tiny", "scalar", device="cpu")
    rm.save_pretrained(tmp_path)
    (tmp_path / "reward_head.safetensors").unlink()
    with pytest.raises(InputError, match="no reward head"):
        rm.module.load_weights(tmp_path)
    save_file({"layer.weight": torch.zeros(1)}, str(tmp_path / "reward_head.safetensors"))
    with pytest.raises(InputError, match="does not match"):
        rm.module.load_weights(tmp_path)
