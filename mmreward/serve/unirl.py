"""UniRL's reward-service protocol (`POST /score`), without Ray: its requests in, its response out.

UniRL (Tencent-Hunyuan/UniRL) trains against a remote reward service through
`unirl/reward/remote.py` `RemoteRewardBackend`; the service's wire format is
`unirl-reward-service/reward_service/schemas.py` (protocol "1"):

    {"protocol_version": "1", "requests": [
        {"history": [{"text": PROMPT, "image_b64": B64}],      # or "video_b64" / "video_path";
         "required_rewards": ["hpsv3", ...], "metadata": {...},  # an edit: [source turn, result turn]
         "request_id": ..., "sample_id": ..., "group_id": ..., "source_rank": ..., "policy_version": ...,
         "scorer_version": null, "idempotency_key": ...}]}
    -> {"protocol_version": "1", "results": [{"hpsv3": {"hpsv3": 0.71, ...}}, {}],
        "errors": [{}, {"hpsv3": "why"}], "identities": [{"request_id": ..., ...}, ...]}

`results[i][reward]` maps sub-metric names to floats, the reward's own score first (the client's
default `sub_metric_reduce="first"` trains on it), then the model's dimensions; a reward that
cannot score request i is left out of `results[i]` and named in `errors[i]` instead. The
identities are echoed (the client checks them when present). Like the reference gateway
(reward_service/server.py), a `scorer_version` pin is refused: one server cannot truthfully fill it.

A request becomes one scoring record: the prompt is its last turn's text, the candidate that
turn's image or video; media of earlier turns (an edit's source image) are the record's own
images / videos. The served reward names (`served_rewards`, also on `/health` under "rewards",
where the client checks them) are the model's name, and for a `combo:` each part's name too.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping

from mmreward.errors import RecordError
from mmreward.serve.protocol import ProtocolError

PROTOCOL_VERSION = "1"
IDENTITY = ("request_id", "sample_id", "group_id", "source_rank", "policy_version", "scorer_version",
            "idempotency_key")
MEDIA_KEYS = ("image_b64", "image_ipc", "video_b64", "video_path")
#: metadata keys that reach the scoring record (what some rewards read: OCR's target text)
METADATA_KEYS = ("target_text", "criteria", "fps")


def reward_name(info: dict) -> str:
    """The name a client asks for: a named reward's name without its `@SOURCE`, a combo's "combo",
    a checkpoint directory's last component."""
    if info.get("kind") == "combo":
        return "combo"
    name = str(info.get("name", "model")).split("@", 1)[0]
    return os.path.basename(name.rstrip("/\\")) or name


def served_rewards(info: dict) -> dict[str, list[str]]:
    """reward name -> its sub-metric names (the reward's own first)."""
    main = reward_name(info)
    rewards = {main: [main, *info.get("dimensions", [])]}
    if info.get("kind") == "combo":  # its dimensions are its parts' names, in the order of its components
        for part, component in zip(info.get("dimensions", []), info.get("components", [])):
            rewards[part] = [part, *component.get("dimensions", [])]
    return rewards


def _data_uri(b64, what: str) -> str:
    if not isinstance(b64, str):
        raise RecordError(f"{what} must be a base64 string")
    return f"data:;base64,{b64}"  # the media type is left to the decoder (images and videos both)


def _turn_media(turn: Mapping, where: str) -> tuple[str, str]:
    """("images" | "videos", the media as a data URI or a path) of one history turn."""
    given = [k for k in MEDIA_KEYS if turn.get(k) is not None]
    if not given:
        raise RecordError(f"{where} has none of {', '.join(MEDIA_KEYS)}")
    if "image_ipc" in given:
        raise RecordError(f"{where}: image_ipc (a CUDA IPC handle) is not served here; send image_b64")
    if len(given) > 1:
        raise RecordError(f"{where} gives {' and '.join(given)}; give one")
    key = given[0]
    if key == "video_path":
        if not isinstance(turn[key], str):
            raise RecordError(f"{where}: video_path must be a string")
        return "videos", turn[key]  # read under the server's --media-root, like any path
    return ("images" if key == "image_b64" else "videos"), _data_uri(turn[key], f"{where}: {key}")


def request_record(index: int, request) -> dict:
    """One UniRL request -> one scoring record (RecordError: the request is malformed)."""
    if not isinstance(request, Mapping):
        raise RecordError(f"request {index} must be an object")
    history = request.get("history")
    if not isinstance(history, list) or not history:
        raise RecordError(f"request {index}: 'history' must be a non-empty list of turns")
    record = {"id": index, "images": [], "videos": []}
    for t, turn in enumerate(history):
        where = f"request {index} history turn {t}"
        if not isinstance(turn, Mapping) or not isinstance(turn.get("text"), str):
            raise RecordError(f"{where} must be an object with a string 'text'")
        kind, media = _turn_media(turn, where)
        if t == len(history) - 1:
            record["prompt"], record["candidates"] = turn["text"], [{kind: [media]}]
        else:
            record[kind].append(media)
    metadata = request.get("metadata")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise RecordError(f"request {index}: 'metadata' must be an object or null")
    record.update({k: metadata[k] for k in METADATA_KEYS if metadata and metadata.get(k) is not None})
    return record


def required_rewards(request) -> list[str] | None:
    rewards = request.get("required_rewards") if isinstance(request, Mapping) else None
    if isinstance(rewards, list) and rewards and all(isinstance(r, str) for r in rewards):
        return rewards
    return None


def parse_score(data) -> tuple[list, list]:
    """A `/score` body -> (requests, one scoring record or RecordError per request)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("requests"), list):
        raise ProtocolError(400, 'the body must be {"protocol_version": "1", "requests": [...]} (UniRL\'s /score)')
    version = data.get("protocol_version", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(400, f"unsupported protocol_version={version!r}; this server speaks {PROTOCOL_VERSION!r}")
    requests = data["requests"]
    pinned = [i for i, r in enumerate(requests) if isinstance(r, Mapping) and r.get("scorer_version") is not None]
    if pinned:
        raise ProtocolError(400, f"request {pinned[0]} pins scorer_version; this server does not version its "
                                 "scorer: drop expected_scorer_version")
    records = []
    for i, request in enumerate(requests):
        try:
            record = request_record(i, request)
            if required_rewards(request) is None:
                raise RecordError(f"request {i}: 'required_rewards' must be a non-empty list of reward names")
            records.append(record)
        except RecordError as exc:
            records.append(exc)
    return requests, records


def _sub_metrics(name: str, output: dict, served: dict[str, list[str]], main: str) -> dict[str, float]:
    if name == main:
        values = {name: output["rewards"][0]}
        values.update({d: v[0] for d, v in (output.get("dimensions") or {}).items()})
    else:  # a combo's part: its rewards and its own dimensions ("part/dim")
        dims = output.get("dimensions") or {}
        values = {name: dims[name][0]}
        values.update({d.split("/", 1)[1]: v[0] for d, v in dims.items() if d.startswith(f"{name}/")})
    return values


def score_response(requests: list, outputs: list[dict], info: dict) -> dict:
    """Output dicts (one per request, in order) -> UniRL's response."""
    served, main = served_rewards(info), reward_name(info)
    results, errors, identities = [], [], []
    for request, output in zip(requests, outputs):
        result, error = {}, {}
        names = required_rewards(request) or ["request"]
        for name in names:
            if "error" in output:
                error[name] = output["error"]
            elif name not in served:
                error[name] = f"unknown reward {name!r}; this server serves {sorted(served)}"
            else:
                values = _sub_metrics(name, output, served, main)
                bad = [k for k, v in values.items() if not isinstance(v, (int, float)) or not math.isfinite(v)]
                if bad:
                    error[name] = f"non-finite value for sub-metric(s) {bad}"
                else:
                    result[name] = values
        results.append(result)
        errors.append(error)
        identities.append({k: (request.get(k) if isinstance(request, Mapping) and k != "scorer_version" else None)
                           for k in IDENTITY})
    return {"protocol_version": PROTOCOL_VERSION, "results": results, "errors": errors, "identities": identities}
