"""`Trace`: one rollout of the agent, as JSON (the cold-start SFT data is JSONL of these).

`messages` is the whole conversation in the Qwen chat format with images as
references (`{"type": "image", "video": v, "frame": f}`), no memory window applied;
`context.context_for_turn` rebuilds what the model saw before each assistant turn.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from mmreward.errors import InputError


@dataclass
class Trace:
    id: str | None
    prompt: str
    videos: list[str]  # paths as given
    messages: list[dict]  # system, user, assistant, ... (assistant content is a plain string)
    turns: list[str] = field(default_factory=list)  # assistant texts, in order
    selected_frames: list[list[dict]] = field(default_factory=list)  # per executed call: [{"video", "frame"}]
    judgments: dict | None = None  # parsed verdict, e.g. {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1}
    format_valid: bool = False  # final turn is a well-formed answer and no tool error happened
    tool_errors: list[str] = field(default_factory=list)
    prefill_tokens: list[int] = field(default_factory=list)  # tokens run through the model before each turn
    labels: dict | None = None  # ground truth when known, same keys as judgments
    stop_reason: str = ""  # "answer" | "no_call" (a reply with neither) | "max_turns" | "max_tokens"
    # what was actually sampled: token ids per turn (EOS included when emitted) and their log-probs
    turn_token_ids: list[list[int]] = field(default_factory=list)
    turn_logprobs: list[list[float]] = field(default_factory=list)
    protocol: str = "mmreward-v1"  # the conversation spoken (agent.protocol); traces from before it: v1
    answer_source: str | None = None  # where the judgments were read: "final" or "recommend" (a fallback)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict) -> "Trace":
        known = cls.__dataclass_fields__
        missing = [k for k in ("prompt", "videos", "messages") if k not in d]
        if missing:
            raise ValueError(f"trace is missing {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json(cls, line: str) -> "Trace":
        return cls.from_dict(json.loads(line))


def read_traces(path) -> list[Trace]:
    """The traces of a JSONL file (strict JSON lines: `mmreward.scoring.jsonl.read_jsonl`)."""
    from mmreward.scoring.jsonl import read_jsonl

    traces = []
    for n, value in read_jsonl(path):
        try:
            if not isinstance(value, dict):
                raise ValueError(f"a trace is a JSON object, got {type(value).__name__}")
            traces.append(Trace.from_dict(value))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: line {n}: {exc}") from None
    return traces


def write_traces(path, traces) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for t in traces:
            f.write(t.to_json() + "\n")
