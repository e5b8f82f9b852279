"""A verl custom reward function: point `reward.custom_reward_function` at this file.

    reward:
      custom_reward_function:
        path: <site-packages>/mmreward/integrations/verl.py   # python -c "import mmreward.integrations.verl as m; print(m.__file__)"
        name: compute_score            # or compute_score_async: verl awaits it, rollouts score concurrently
        reward_kwargs: {model: "http://127.0.0.1:8000", media_root: null}

verl (0.9.1, `verl/trainer/ppo/reward.py: get_custom_reward_fn`, the reward loop's
`NaiveRewardManager.run_single`) calls `compute_score(data_source=, solution_str=,
ground_truth=, extra_info=, **reward_kwargs)` once per response, with `solution_str` the
decoded response. It passes no images: put the question and media references in each row's
`extra_info` ("question" or "prompt", "images", "videos" as paths or data: URIs, optional
"criteria", "fps"). The result is `{"score": reward, ...dimensions}`; verl logs the other
keys as reward extra info.

verl loads this file afresh in every worker; the model is loaded once per process all the
same (`mmreward.integrations.common.reward_model` keeps it).
"""
from __future__ import annotations

from mmreward.errors import RecordError
from mmreward.integrations.common import ascore, check_on_error, reward_model, reward_values


def record_of(solution_str: str, extra_info: dict | None) -> dict:
    info = extra_info or {}
    question = info.get("question", info.get("prompt"))
    if not isinstance(question, str):
        raise RecordError("verl's extra_info needs the question as 'question' (or 'prompt'): the reward model "
                          "judges the response against it")
    record = {"prompt": question, "candidates": [{"text": solution_str}]}
    for key in ("images", "videos", "criteria", "fps"):
        if info.get(key) is not None:
            record[key] = list(info[key]) if key in ("images", "videos") else info[key]
    return record


#: keyword arguments verl's reward manager adds when it runs a reward-model router (not ours)
VERL_EXTRAS = ("reward_router_address", "reward_model_tokenizer")


def model_of(model, mode, on_error, load_kwargs: dict):
    check_on_error(on_error)
    return reward_model(model, mode, **{k: v for k, v in load_kwargs.items() if k not in VERL_EXTRAS})


def result_of(output: dict, on_error) -> dict:
    score = reward_values([output], on_error)[0]
    result = {"score": score}
    for name, values in output.get("dimensions", {}).items():
        result[name] = values[0]
    return result


def compute_score(data_source=None, solution_str: str = "", ground_truth=None, extra_info=None, *,
                  model="tiny", mode: str | None = None, media_root=None, on_error="raise", **load_kwargs) -> dict:
    """verl's reward-function signature; `model`, `mode`, `media_root`, `on_error` and load
    options come from `reward_kwargs`."""
    record = record_of(solution_str, extra_info)
    rm = model_of(model, mode, on_error, load_kwargs)
    return result_of(rm.score([record], media_root)[0], on_error)


async def compute_score_async(data_source=None, solution_str: str = "", ground_truth=None, extra_info=None, *,
                              model="tiny", mode: str | None = None, media_root=None, on_error="raise",
                              **load_kwargs) -> dict:
    """`compute_score` as a coroutine: verl awaits it, so many responses are in flight at once
    (a service batches them)."""
    record = record_of(solution_str, extra_info)
    rm = model_of(model, mode, on_error, load_kwargs)
    outputs = await ascore(rm, [record], media_root)
    return result_of(outputs[0], on_error)
