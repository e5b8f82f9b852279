"""What the RL adapters share: a model from whatever the user gave, and rewards from outputs.

`model` may be anything `mmreward.load` returns (a `BaseRewardModel`), or a name for it:
"tiny", a checkpoint directory, a hub id, or a service URL ("http://127.0.0.1:8000").
Names are loaded once per process (frameworks such as verl import the reward file afresh
for every worker, so the cache lives here, in an ordinary module).
"""
from __future__ import annotations

import json
import math
import os
import threading

from mmreward.errors import ConfigError, RecordError
from mmreward.scoring.base import BaseRewardModel

_models: dict[str, BaseRewardModel] = {}
_lock = threading.Lock()

#: what an adapter does with a record the model answers with an error
ON_ERROR = ("raise", "nan", "none")


def reward_model(model, mode: str | None = None, **load_kwargs) -> BaseRewardModel:
    """`model` itself when it is a reward model, else `mmreward.load(model, mode, **load_kwargs)`,
    loaded once per process for the same arguments."""
    if isinstance(model, BaseRewardModel):
        if mode is not None or load_kwargs:
            raise ConfigError("mode and load options go with a model name, not with a loaded model")
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise ConfigError(f"model must be a reward model, a name, a directory or a URL; "
                          f"got {type(model).__name__}")
    key = json.dumps([os.fspath(model), mode, load_kwargs], sort_keys=True, default=str)
    with _lock:
        if key not in _models:
            import mmreward

            _models[key] = mmreward.load(os.fspath(model), mode, **load_kwargs)
        return _models[key]


def check_on_error(on_error) -> None:
    if on_error not in ON_ERROR and not isinstance(on_error, (int, float)):
        raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR)} or a number, got {on_error!r}")


def error_value(on_error):
    """The reward an item that failed gets under `on_error` (not "raise")."""
    return math.nan if on_error == "nan" else None if on_error == "none" else float(on_error)


def reward_values(outputs: list[dict], on_error="raise", index: int | None = 0) -> list:
    """Candidate `index`'s reward of each output (`index=None`: all rewards of each output).

    An output with an error raises a RecordError naming it (`on_error="raise"`), or gives
    NaN, None (TRL reads None as "no reward for this one") or the number `on_error`."""
    values = []
    for k, out in enumerate(outputs):
        if "error" in out:
            if on_error == "raise":
                raise RecordError(f"reward of item {k} (id {out.get('id')!r}): {out['error']}")
            values.append(error_value(on_error) if index is not None else None)
        else:
            values.append(out["rewards"][index] if index is not None else list(out["rewards"]))
    return values


async def ascore(model: BaseRewardModel, records: list, media_root=None) -> list[dict]:
    """Score from async code (a remote model's async client, else the model's shared passes)."""
    return await model.ascore(records, media_root)


def text_of(content) -> str:
    """A chat message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise ConfigError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def images_in(content) -> list:
    """Images carried inside a message's parts ({"type": "image", "image": ...})."""
    if not isinstance(content, list):
        return []
    return [p["image"] for p in content if isinstance(p, dict) and p.get("type") == "image" and "image" in p]
