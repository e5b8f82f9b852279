"""verl's own reward loading and reward manager call `mmreward.integrations.verl` (verl 0.9.1)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import mmreward.integrations.verl as verl_reward

verl = pytest.importorskip("verl")


def verl_config(name: str, **reward_kwargs):
    from omegaconf import OmegaConf

    return OmegaConf.create({"reward": {
        "custom_reward_function": {"path": verl_reward.__file__, "name": name, "reward_kwargs": reward_kwargs},
        "reward_manager": {"source": "register", "name": "naive", "module": None}}})


def batch(tokenizer, response: str, extra_info: dict):
    """One rollout as verl's reward loop holds it: prompt + response ids, mask, non-tensor columns."""
    from verl import DataProto

    prompt = torch.tensor([tokenizer("a question", add_special_tokens=False)["input_ids"]])
    ids = tokenizer(response + "<|im_end|>", add_special_tokens=False)["input_ids"]
    responses = torch.tensor([ids + [tokenizer.pad_token_id] * 3])  # right padding, as verl's rollouts
    mask = torch.cat([torch.ones_like(prompt), torch.tensor([[1] * len(ids) + [0] * 3])], dim=1)
    return DataProto.from_dict(
        tensors={"prompts": prompt, "responses": responses, "attention_mask": mask},
        non_tensors={"data_source": np.array(["geo3k"], dtype=object),
                     "reward_model": np.array([{"ground_truth": "2"}], dtype=object),
                     "extra_info": np.array([extra_info], dtype=object)})


@pytest.mark.slow
def test_verl_loads_and_calls_the_reward_function(image_pairs, scalar_rm, tiny_dir):
    from transformers import AutoTokenizer
    from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager

    root, records = image_pairs
    image = records[0]["candidates"][0]["images"][0]
    info = {"question": records[0]["prompt"], "images": [image]}
    want = scalar_rm.score([{"prompt": records[0]["prompt"], "images": [image],
                             "candidates": [{"text": "Two kites."}]}], media_root=root)[0]["rewards"][0]
    options = dict(model="tiny", mode="scalar", device="cpu", media_root=str(root))

    fn = get_custom_reward_fn(verl_config("compute_score", **options))  # verl's loader, verl's kwargs merge
    assert fn(data_source="geo3k", solution_str="Two kites.", ground_truth="2", extra_info=info)["score"] == \
        pytest.approx(want, abs=1e-5)

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    for name in ("compute_score", "compute_score_async"):  # the reward loop awaits the async one
        manager = load_reward_manager(verl_config(name, **options), tokenizer)
        result = manager.loop.run_until_complete(manager.run_single(batch(tokenizer, "Two kites.", dict(info))))
        assert result["reward_score"] == pytest.approx(want, abs=1e-5)
        assert result["reward_extra_info"]["score"] == result["reward_score"]


def test_verl_rows_without_a_question_are_refused_by_name():
    from mmreward.errors import RecordError

    with pytest.raises(RecordError, match="extra_info needs the question"):
        verl_reward.compute_score("geo3k", "x", "2", {"images": ["a.png"]}, model="http://127.0.0.1:1")
