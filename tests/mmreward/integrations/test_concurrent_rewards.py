"""verl's reward loop and OpenRLHF's rollout executor calling one in-process model concurrently.

The frameworks' own code drives the adapters: verl's reward manager (`run_single`, many rows
in flight: a sync `compute_score` runs in its executor's threads, `compute_score_async` on its
loop) in several worker threads at once, and OpenRLHF's `SingleTurnAgentExecutor` with 64
rollouts in flight (each `reward_func` call in `asyncio.to_thread`). Every reward must equal the
row scored alone (on transformers 5.10 / 5.15 such calls failed with `Already borrowed`), and
the service's. `scripts/check_rl_frameworks.sh` runs this file inside verl's and OpenRLHF's own
resolved environments.
"""
from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import mmreward.integrations.openrlhf as openrlhf_reward
import mmreward.integrations.verl as verl_reward

pytestmark = pytest.mark.slow

# batched with other calls' rows vs scored alone: float32 passes of other batch shapes (issue 19's bound)
SERIAL_TOLERANCE = 1e-6
ROWS = 16  # distinct rows; every test sends each several times, interleaved


@pytest.fixture(scope="module")
def rows(image_pairs):
    """(media root, [(question, image, response)]), half of them without an image."""
    root, records = image_pairs
    out = []
    for i, r in enumerate(records[:ROWS]):
        image = r["candidates"][0]["images"][0] if i % 2 else None
        out.append((f"{r['prompt']} (row {i})", image, f"It is {'a' * (1 + i % 5)} shape."))  # unique prompts
    return root, out


@pytest.fixture(scope="module")
def serial(rows, scalar_rm):
    """Each row scored alone, one after another: the rewards every concurrent call must reproduce."""
    root, items = rows
    return [scalar_rm.score([{"prompt": q, "images": [im] if im else [], "candidates": [{"text": a}]}],
                            media_root=root)[0]["rewards"][0] for q, im, a in items]


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_dir)


def verl_batch(tokenizer, question: str, image, response: str):
    from verl import DataProto

    prompt = torch.tensor([tokenizer(question, add_special_tokens=False)["input_ids"]])
    ids = tokenizer(response + "<|im_end|>", add_special_tokens=False)["input_ids"]
    responses = torch.tensor([ids + [tokenizer.pad_token_id] * 2])
    mask = torch.cat([torch.ones_like(prompt), torch.tensor([[1] * len(ids) + [0] * 2])], dim=1)
    info = {"question": question, **({"images": [image]} if image else {})}
    return DataProto.from_dict(
        tensors={"prompts": prompt, "responses": responses, "attention_mask": mask},
        non_tensors={"data_source": np.array(["geo3k"], dtype=object),
                     "reward_model": np.array([{"ground_truth": "-"}], dtype=object),
                     "extra_info": np.array([info], dtype=object)})


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_verl_reward_workers_score_concurrently_as_serially(name, rows, serial, tokenizer):
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import load_reward_manager

    root, items = rows
    config = OmegaConf.create({"reward": {
        "custom_reward_function": {"path": verl_reward.__file__, "name": name, "reward_kwargs": dict(
            model="tiny", mode="scalar", device="cpu", media_root=str(root))},
        "reward_manager": {"source": "register", "name": "naive", "module": None}}})
    workers, per_worker = 4, 2 * ROWS  # 4 workers x 32 rows in flight each: 128 calls on one model
    results: dict[int, list] = {}

    def worker(w: int):  # each reward worker loads the reward file afresh and runs its own loop
        manager = load_reward_manager(config, tokenizer)
        order = [(w + k) % ROWS for k in range(per_worker)]
        batches = [verl_batch(tokenizer, *items[i]) for i in order]
        done = manager.loop.run_until_complete(asyncio.gather(*(manager.run_single(b) for b in batches),
                                                              return_exceptions=True))
        results[w] = list(zip(order, done))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    got = [pair for w in range(workers) for pair in results[w]]
    assert len(got) == workers * per_worker
    failures = [r for _, r in got if isinstance(r, BaseException)]
    assert failures == []
    for i, result in got:
        assert result["reward_score"] == pytest.approx(serial[i], abs=SERIAL_TOLERANCE)


class Engine:
    """Stands in for vLLM: returns each prompt's scripted response token ids."""

    def __init__(self, tokenizer, responses: dict[str, str]):
        self.ids = {p: tokenizer(r + "<|im_end|>", add_special_tokens=False)["input_ids"] for p, r in responses.items()}
        self.tokenizer = tokenizer

    async def generate(self, prompt_ids, params, multi_modal_data=None):
        await asyncio.sleep(0)
        ids = self.ids[self.tokenizer.decode(prompt_ids)]
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, text="", finish_reason="stop", logprobs=None)])


def openrlhf_rollouts(tokenizer, items, url: str, n: int) -> list:
    """`n` rollouts through OpenRLHF's own executor, all in flight at once; their rewards in order."""
    from openrlhf.utils import agent

    from mmreward.integrations.openrlhf import make_label

    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                             add_generation_prompt=True) for q, _, _ in items]
    engine = Engine(tokenizer, {p: a for p, (_, _, a) in zip(prompts, items)})
    executor = agent.SingleTurnAgentExecutor(url)
    params = SimpleNamespace(max_tokens=32, logprobs=None)

    async def run():
        return await asyncio.gather(*(executor.execute(
            prompts[k % len(items)], make_label(images=[items[k % len(items)][1]] if items[k % len(items)][1] else None),
            params, 1024, tokenizer, engine) for k in range(n)))

    return [out["reward"] for out in asyncio.run(run())]


def test_openrlhf_64_rollouts_through_the_in_process_reward_func(rows, serial, tokenizer, monkeypatch):
    pytest.importorskip("openrlhf.utils.agent")
    root, items = rows
    for key, value in {"MMREWARD_MODEL": "tiny", "MMREWARD_MODE": "scalar",
                       "MMREWARD_MEDIA_ROOT": str(root)}.items():
        monkeypatch.setenv(key, value)
    rewards = openrlhf_rollouts(tokenizer, items, openrlhf_reward.__file__, 64)
    assert None not in rewards  # OpenRLHF turns a failed reward_func call into reward None
    for k, reward in enumerate(rewards):
        assert reward == pytest.approx([serial[k % ROWS]], abs=SERIAL_TOLERANCE)


@pytest.mark.multiprocess
def test_the_service_gives_openrlhf_the_in_process_rewards(rows, serial, tokenizer, tmp_path):
    pytest.importorskip("openrlhf.utils.agent")
    pytest.importorskip("ray.serve")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
    from serve_helpers import Server

    root, items = rows
    server = Server("--model", "tiny", "--mode", "scalar", "--device", "cpu", "--media-root", str(root),
                    log=tmp_path / "serve.log")
    try:
        rewards = openrlhf_rollouts(tokenizer, items, f"{server.wait_ready().url}/get_reward", 32)
    finally:
        server.stop()
    for k, reward in enumerate(rewards):
        assert reward == pytest.approx([serial[k % ROWS]], abs=SERIAL_TOLERANCE)
