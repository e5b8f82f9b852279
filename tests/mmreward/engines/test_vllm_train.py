"""GRPO with vLLM rollouts: the engine samples, the policy's weights are loaded into it before
every step (they change between steps 1 and 2; with LoRA merged in), the loss still comes from
the policy. RFT samples on the engine too."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

LABELS = {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1}


def embedding(module) -> torch.Tensor:
    return next(p for n, p in module.named_parameters() if "embed_tokens" in n).detach().float().clone()


@pytest.fixture(scope="module")
def items(media):
    root, _, videos = media
    clips = [c["videos"][0] for c in videos[0]["candidates"]]
    return root, [{"id": "i0", "prompt": "a bar slides down", "videos": clips, "labels": LABELS}]


@pytest.fixture(scope="module")
def agent_config():
    from mmreward.agent.config import AgentConfig

    return AgentConfig(initial_frames=2, candidate_frames=8, max_turns=2, max_frames_per_call=2,
                       memory_window=1, max_new_tokens=4, frame_max_pixels=56 * 56)


def test_grpo_two_steps_on_vllm_rollouts(hd64, engine, items, agent_config, tmp_path):
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo

    model, processor, _ = hd64
    root, its = items
    policy = copy.deepcopy(model).train()
    seen = []  # per step: the engine's embedding after the sync, and the policy's
    load = engine.load_weights

    def load_and_look(m):
        load(m)
        seen.append((engine.llm.apply_model(embedding)[0], embedding(m)))

    engine.load_weights = load_and_look
    # random weights never answer: reward the first sampled token instead, so groups have a spread
    reward = lambda trace, item: float(trace.turn_token_ids[0][0] % 5)  # noqa: E731
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=2, items_per_step=1, group_size=4, lr=5e-2,
                     beta=0.0, save_steps=0, engine="vllm")
    try:
        train_grpo(policy, processor, None, its, agent_config, cfg, media_root=root, reward_fn=reward,
                   engine=engine)
    finally:
        del engine.load_weights
        engine.load_weights(model)  # the checkpoint's weights for the other tests
    assert len(seen) == 2
    (step1, policy1), (step2, policy2) = seen
    assert torch.allclose(step1, embedding(model)) and torch.allclose(step2, policy2, atol=1e-6)
    assert not torch.allclose(step1, step2)  # the engine got the updated weights
    log = [json.loads(line) for line in open(tmp_path / "grpo" / "grpo_log.jsonl")]
    assert [r["step"] for r in log] == [1, 2] and log[0]["completion_tokens"] > 0


def test_grpo_with_lora_gives_the_engine_the_merged_weights(hd64, engine, items, agent_config, tmp_path):
    from test_vllm_engine import requests

    from mmreward.engines import Sampling
    from mmreward.engines.hf import HFEngine
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from mmreward.train.lora import LoraOptions

    model, processor, _ = hd64
    root, its = items
    request, sampling = requests(processor)[:1], Sampling(max_new_tokens=4, logprobs=True)
    seen = []  # per sync: (the engine's log-probs, those of a plain model given the merged weights)
    load = engine.load_weights

    def load_and_look(m):
        load(m)
        plain = copy.deepcopy(model)
        plain.load_state_dict(m.state_dict())  # base names only: a LoRA name would be refused here
        seen.append((engine.generate(request, sampling)[0], HFEngine(plain.eval(), processor).generate(request, sampling)[0]))

    engine.load_weights = load_and_look
    reward = lambda trace, item: float(trace.turn_token_ids[0][0] % 5)  # noqa: E731
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=2, items_per_step=1, group_size=4, lr=1e-1,
                     beta=0.0, save_steps=0, engine="vllm")
    try:
        train_grpo(copy.deepcopy(model).train(), processor, None, its, agent_config, cfg, media_root=root,
                   reward_fn=reward, engine=engine, lora=LoraOptions(lora_r=4, lora_dropout=0.0))
    finally:
        del engine.load_weights
        engine.load_weights(model)
    assert len(seen) == 2
    for served, merged in seen:
        assert served.token_ids == merged.token_ids
        assert np.abs(np.subtract(served.logprobs, merged.logprobs)).max() < 1e-4
    (step1, _), (step2, _) = seen
    assert np.abs(np.subtract(step1.logprobs, step2.logprobs)).max() > 1e-3  # the adapters moved after step 1


def test_rft_samples_on_the_engine(hd64, engine, items, agent_config):
    from mmreward.train.agent.rft import sample_and_filter

    model, processor, _ = hd64
    root, its = items
    sampling = agent_config.__class__.from_dict({**agent_config.to_dict(), "temperature": 1.0})
    kept, report = sample_and_filter(model, processor, its, 3, sampling, root, engine=engine, seed=3)
    assert report["sampled"] == 3 and report["kept"] == len(kept)
    again = sample_and_filter(model, processor, its, 3, sampling, root, engine=engine, seed=3)[1]
    assert again == report
