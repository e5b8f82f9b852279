"""The tool-call error type, and the "mmreward-v1" dialect's readers: its select_frames call and answer.

Tool call (one per turn):
    <tool_call>{"name": "select_frames", "arguments": {"target_frames": [12, 16, 60]}}</tool_call>
Answer (1 = first video better, 2 = second, 0 = tie; OA = overall):
    <answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>
Problems with a tool call come back as a `ToolError` value (its message is shown
to the model), never as an exception: a bad call is the model's mistake, not ours.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

TOOL_NAME = "select_frames"
OVERALL = "OA"
_TOOL_RE = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_PAIR_RE = re.compile(r"^\s*([A-Za-z]+)\s*[:=]\s*([0-9]+)\s*$")


@dataclass(frozen=True)
class ToolError:
    """Why a tool call was refused; `message` is what the model is told."""

    message: str

    def __str__(self) -> str:
        return self.message


def has_tool_call(text: str) -> bool:
    return "<tool_call>" in text


def parse_tool_call(text: str, num_candidates: int | None = None,
                    max_frames: int | None = None) -> list[int] | ToolError | None:
    """The frame numbers a select_frames call asks for, a ToolError, or None when there is no call.

    Duplicates are dropped (first occurrence kept). With `num_candidates` (N) and
    `max_frames` (K) the numbers are also checked against 1..N and the count against K.
    """
    if not has_tool_call(text):
        return None
    bodies = _TOOL_RE.findall(text)
    if not bodies:
        return ToolError("the <tool_call> is not closed with </tool_call>")
    if len(bodies) > 1:
        return ToolError(f"one tool call per turn, got {len(bodies)}")
    try:
        call = json.loads(bodies[0])
    except json.JSONDecodeError as exc:
        return ToolError(f"the tool call is not valid JSON ({exc.msg} at char {exc.pos})")
    if not isinstance(call, dict) or call.get("name") != TOOL_NAME:
        name = call.get("name") if isinstance(call, dict) else None
        return ToolError(f"unknown tool {name!r}; the only tool is {TOOL_NAME}")
    args = call.get("arguments")
    frames = args.get("target_frames") if isinstance(args, dict) else None
    if not isinstance(frames, list) or not frames:
        return ToolError('arguments must be {"target_frames": [non-empty list of frame numbers]}')
    if not all(isinstance(f, int) and not isinstance(f, bool) for f in frames):
        return ToolError("target_frames must be whole numbers")
    frames = list(dict.fromkeys(frames))
    return check_frames(frames, num_candidates, max_frames)


def check_frames(frames: list[int], num_candidates: int | None, max_frames: int | None):
    if max_frames is not None and len(frames) > max_frames:
        return ToolError(f"at most {max_frames} frames per call, got {len(frames)}")
    if num_candidates is not None:
        bad = [f for f in frames if not 1 <= f <= num_candidates]
        if bad:
            return ToolError(f"frame numbers must be in 1..{num_candidates}, got {bad}")
    return frames


def parse_answer(text: str, dimensions=("TA", "VQ", "MQ")) -> dict | None:
    """{dim: 0|1|2, ..., "OA": 0|1|2} from the last <answer>...</answer>, or None if malformed.

    Every dimension and OA must appear exactly once (keys case-insensitive), with
    values 0, 1 or 2, and nothing else may be inside the tags.
    """
    found = _ANSWER_RE.findall(text)
    if not found:
        return None
    wanted = {d.upper(): d for d in (*dimensions, OVERALL)}
    out: dict[str, int] = {}
    for part in re.split(r"[,;\n]", found[-1]):
        if not part.strip():
            continue
        m = _PAIR_RE.match(part)
        if not m:
            return None
        key, value = wanted.get(m.group(1).upper()), int(m.group(2))
        if key is None or key in out or value not in (0, 1, 2):
            return None
        out[key] = value
    return out if len(out) == len(wanted) else None


def format_valid(final_text: str, dimensions=("TA", "VQ", "MQ")) -> bool:
    """A well-formed final turn: exactly one parseable <answer>, no tool call, nothing after </answer>."""
    if has_tool_call(final_text) or final_text.count("<answer>") != 1:
        return False
    if parse_answer(final_text, dimensions) is None:
        return False
    return final_text.rstrip().endswith("</answer>")
