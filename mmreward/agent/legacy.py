""""mmreward-v1": the dialect this suite's agent spoke before it adopted the published protocol.

Kept for traces, checkpoints and runs made with it (`AgentConfig(protocol="mmreward-v1")`):
per-video frame numbers (number n shows frame n of every video), `<answer>TA: 1, VQ: 2, MQ: 1,
OA: 1</answer>`, a reminder when a turn neither calls the tool nor answers, tool images forgotten
into a text placeholder. Its texts are in `prompts`, its parsers in `parse`.
"""
from __future__ import annotations

import json

from . import prompts
from .parse import ToolError, format_valid, has_tool_call, parse_answer, parse_tool_call
from .protocol import Protocol
from .vrthinker.answers import Answer


class LegacyProtocol(Protocol):
    name = "mmreward-v1"

    def defaults(self) -> dict:
        return {"initial_frames": 4, "candidate_frames": 32, "max_turns": 3, "max_frames_per_call": 8,
                "memory_window": 1, "max_new_tokens": 128, "frame_max_pixels": 64 * 28 * 28,
                "frame_side": 0, "max_context_tokens": 0}

    def opening(self, prompt, n_videos, config):
        return [{"role": "system", "content": prompts.system_prompt(config, n_videos)},
                prompts.first_user_turn(prompt, n_videos, config)]

    def result_turn(self, numbers, config, n_videos, turns_left):
        return prompts.tool_result_turn(numbers, n_videos, config, turns_left)

    def error_turn(self, error, config, turns_left):
        return prompts.tool_error_turn(error.message, turns_left)

    def reminder_turn(self, config, turns_left):
        return prompts.no_action_turn(turns_left)

    def is_final(self, text):
        return "<answer>" in text and not has_tool_call(text)

    def read_call(self, text, config, n_videos) -> list[int] | ToolError | None:
        return parse_tool_call(text, config.candidate_frames, config.max_frames_per_call)

    def read_answer(self, texts, dims) -> Answer:
        labels = parse_answer(texts[-1], dims) if texts and self.is_final(texts[-1]) else None
        return Answer(labels, "final") if labels else Answer()

    def format_valid(self, trace, dims) -> bool:
        return (trace.stop_reason == "answer" and format_valid(trace.turns[-1], dims)
                and not trace.tool_errors)

    def write_call(self, numbers, dims, note="", inclination=None):
        call = json.dumps({"name": "select_frames", "arguments": {"target_frames": list(numbers)}})
        return f"{note}\n<tool_call>{call}</tool_call>" if note else f"<tool_call>{call}</tool_call>"

    def write_answer(self, labels, dims, note=""):
        answer = "<answer>" + ", ".join(f"{d}: {labels[d]}" for d in (*dims, "OA")) + "</answer>"
        return f"{note}\n{answer}" if note else answer
