"""A real TRL `GRPOTrainer` run (the README's snippet: tiny Qwen2.5-VL policy, 16 image questions,
2 steps on CPU) with `GRPOReward`: the function gets the images, and what the trainer logs is
the reward model's reward for the completions it generated."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trl")

from mmreward.integrations.trl import GRPOReward  # noqa: E402

COLOURS = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


@pytest.mark.slow
def test_grpo_trainer_logs_the_reward_models_rewards(rl_snippets, scalar_rm, tmp_path, monkeypatch):
    calls = []
    original = GRPOReward.__call__

    def spy(self, prompts, completions, completion_ids=None, **kwargs):
        rewards = original(self, prompts, completions, completion_ids, **kwargs)
        calls.append({"prompts": prompts, "completions": completions, "kwargs": kwargs, "rewards": rewards})
        return rewards

    monkeypatch.setattr(GRPOReward, "__call__", spy)
    monkeypatch.chdir(tmp_path)
    code = next(s["code"] for s in rl_snippets if s["heading"].startswith("TRL"))
    scope = {"__name__": "readme"}
    exec(compile(code, "README.md (TRL)", "exec"), scope)

    assert len(calls) == 2  # one generation batch per step: 1 prompt x 4 completions
    logged = [h["rewards/mmreward/mean"] for h in scope["trainer"].state.log_history if "rewards/mmreward/mean" in h]
    assert len(logged) == 2
    for call, mean in zip(calls, logged):
        images = call["kwargs"]["image"]
        assert len(images) == len(call["completions"]) == 4
        pixels = {tuple(np.asarray(im)[0, 0]) for im in images}  # the row's square, once per completion
        assert len(pixels) == 1 and pixels.pop() in COLOURS.values()
        # the reward model's rewards for these completions with these images, scored independently
        records = [{"prompt": "What colour is the square?", "images": [im],
                    "candidates": [{"text": c[0]["content"]}]} for im, c in zip(images, call["completions"])]
        want = [o["rewards"][0] for o in scalar_rm.score(records)]
        assert call["rewards"] == pytest.approx(want, abs=1e-5)
        assert mean == pytest.approx(float(np.mean(want)), abs=1e-5)
