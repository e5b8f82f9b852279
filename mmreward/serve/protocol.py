"""The service's wire formats, without Ray: request bodies in, records and response bodies out.

`POST /v1/score` takes a JSON list of scoring records (or `{"records": [...]}`) and answers
the list of output dicts, one per record, in order. `POST /get_reward` speaks OpenRLHF's
remote reward-model protocol (`openrlhf/utils/agent.py`, `_fetch_rewards_via_http`, 0.11.2):
`{"query": [...], "prompts": [...], "labels": [...]}` -> `{"rewards": [...], "scores": [...],
"extra_logs": {...}}`. OpenRLHF never sends images: media reach the reward model through the
labels (`openrlhf_label`).

A request-level problem (not JSON, wrong shape) is a `ProtocolError` with its HTTP status;
a problem with one record is that record's `{"id", "error"}` output.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

from mmreward.errors import RecordError
from mmreward.scoring.datauri import is_data_uri
from mmreward.scoring.jsonl import loads_strict
from mmreward.scoring.records import check_record


class ProtocolError(Exception):
    """A request the service refuses as a whole; `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def parse_json(body: bytes):
    """A request body as strict JSON (RFC 8259, the scoring files' reader): NaN, Infinity and
    1e400 are refused with their position, like any syntax error."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(400, f"invalid JSON: not UTF-8 (byte 0x{body[exc.start]:02x} at offset "
                                 f"{exc.start})") from None
    try:
        return loads_strict(text.removeprefix("\ufeff"))
    except RecursionError:
        raise ProtocolError(400, "invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(400, f"invalid JSON: {exc}") from None


def score_request(data) -> list:
    """The records of a `/v1/score` body: a JSON list, or an object with a list under "records"."""
    if isinstance(data, Mapping) and "records" in data:
        data = data["records"]
    if not isinstance(data, list):
        raise ProtocolError(400, f"the body must be a JSON list of records (or {{\"records\": [...]}}), "
                                 f"got {type(data).__name__}")
    return data


def record_id(record):
    return record.get("id") if isinstance(record, Mapping) else None


# -------------------------------------------------------------------------- media paths

def media_values(record: Mapping):
    """Every media value of a record (record and candidate images and videos, video frames)."""
    holders = [record] + [c for c in record.get("candidates", []) if isinstance(c, Mapping)]
    for holder in holders:
        for kind in ("images", "videos"):
            values = holder.get(kind)
            if not isinstance(values, list):
                continue
            for value in values:
                if isinstance(value, Mapping) and isinstance(value.get("frames"), list):
                    yield from value["frames"]
                else:
                    yield value


def is_path(value) -> bool:
    return isinstance(value, str) and not is_data_uri(value)


def check_request_record(record, paths_allowed: bool) -> None:
    """What the service checks before a record reaches a model: its shape, and that it names
    no file when the server has no media root (a service must not read arbitrary paths)."""
    check_record(record)
    if not paths_allowed:
        for value in media_values(record):
            if is_path(value):
                raise RecordError(f"media path {value!r}: this server reads no files (it was started "
                                  f"without --media-root); send the media as data: URIs")


# -------------------------------------------------------------------------- OpenRLHF

#: Qwen chat-template markers (the tokenizer's special tokens as `decode(skip_special_tokens=False)`
#: writes them): the turn that holds the response, and what closes it
ASSISTANT_TURN = "<|im_start|>assistant\n"
USER_TURN = re.compile(r"<\|im_start\|>user\n(.*?)(?:<\|im_end\|>|$)", re.S)
END_TOKENS = ("<|im_end|>", "<|endoftext|>")
VISION_SPAN = re.compile(r"<\|vision_start\|>.*?<\|vision_end\|>", re.S)


def openrlhf_label(label) -> dict:
    """A label's reward fields: a JSON object (or its text) with any of "images", "videos",
    "prompt" (the question shown to the reward model), "criteria", "fps". Any other label (a
    ground-truth string, None) carries no media."""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = loads_strict(label)
        except ValueError as exc:
            raise RecordError(f"label is not valid JSON ({exc})") from None
    if not isinstance(label, Mapping):
        return {}
    unknown = set(label) - {"images", "videos", "prompt", "criteria", "fps"}
    if unknown:
        raise RecordError(f"label has unknown keys {sorted(unknown)}; it may give images, videos, "
                          f"prompt, criteria, fps")
    return dict(label)


def question_of(prompt: str) -> str:
    """The user's question inside a chat-templated prompt (its last user turn, vision tokens
    removed); a prompt without the template is the question."""
    turns = USER_TURN.findall(prompt)
    text = turns[-1] if turns else prompt
    return VISION_SPAN.sub("", text).strip()


def response_of(query: str, prompt: str) -> str:
    """The policy's response inside OpenRLHF's `query` (prompt + response decoded with special
    tokens kept). A VLM prompt's one image pad token comes back expanded, so when the query does
    not start with the prompt the response is what follows the last assistant turn."""
    if query.startswith(prompt):
        response = query[len(prompt):]
    elif ASSISTANT_TURN in query:
        response = query.rsplit(ASSISTANT_TURN, 1)[1]
    else:
        raise RecordError("the query neither starts with its prompt nor holds an assistant turn "
                          f"({ASSISTANT_TURN!r}), so the response cannot be found")
    response = response.strip()
    while response.endswith(END_TOKENS):
        for token in END_TOKENS:
            response = response.removesuffix(token).rstrip()
    return response


def openrlhf_records(data) -> list:
    """OpenRLHF's request -> one scoring record per query (a RecordError in the slot of a bad one)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("query"), list):
        raise ProtocolError(400, 'the body must be {"query": [...], "prompts": [...], "labels": [...]}')
    queries = data["query"]
    prompts, labels = data.get("prompts"), data.get("labels")
    for name, value in (("prompts", prompts), ("labels", labels)):
        if value is not None and (not isinstance(value, list) or len(value) != len(queries)):
            raise ProtocolError(400, f"'{name}' must be a list as long as 'query' ({len(queries)})")
    records = []
    for i, query in enumerate(queries):
        try:
            records.append(_openrlhf_record(i, query, prompts[i] if prompts else None,
                                            labels[i] if labels else None))
        except RecordError as exc:
            records.append(RecordError(f"query {i}: {exc}"))
    return records


def _openrlhf_record(i: int, query, prompt, label) -> dict:
    if not isinstance(query, str) or not isinstance(prompt, (str, type(None))):
        raise RecordError("query and prompt must be strings")
    fields = openrlhf_label(label)
    prompt = prompt if prompt is not None else ""
    record = {"id": i, "prompt": fields.get("prompt", question_of(prompt)),
              "candidates": [{"text": response_of(query, prompt)}]}
    for key in ("images", "videos", "criteria", "fps"):
        if key in fields:
            record[key] = fields[key]
    return record


def openrlhf_response(outputs: list[dict], error_reward: float | None) -> dict:
    """Output dicts -> OpenRLHF's reply; an item that failed gets `error_reward` (or the request
    fails naming it) and is flagged in extra_logs (OpenRLHF logs each key as a metric)."""
    rewards, flags, errors = [], [], []
    for i, out in enumerate(outputs):
        if "error" in out:
            if error_reward is None:
                raise ProtocolError(422, f"query {i}: {out['error']}")
            rewards.append(float(error_reward))
        else:
            rewards.append(float(out["rewards"][0]))
        flags.append(float("error" in out))
        errors.append(out.get("error"))
    reply = {"rewards": rewards, "scores": rewards, "extra_logs": {"mmreward_error": flags}}
    if any(errors):
        reply["errors"] = errors
    return reply
