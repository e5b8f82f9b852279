"""The "mmreward-v1" dialect's messages (`legacy.LegacyProtocol`): system prompt, first user
turn, tool results, tool errors.

Images appear as references `{"type": "image", "video": v, "frame": f, "number": f}` (v 0-based,
f the 1-based candidate frame number), each preceded by a text label such as
"Video 1, frame 9/32: ". `frames.materialize` turns the references into pixels.
"""
from __future__ import annotations

from video.sampling import uniform_indices

from .config import AgentConfig
from .protocol import frame_item

_DIM_NAMES = {"TA": "text alignment", "VQ": "visual quality", "MQ": "motion quality"}


def system_prompt(config: AgentConfig, n_videos: int = 2) -> str:
    dims = ", ".join(f"{d} ({_DIM_NAMES.get(d, d)})" for d in config.dimensions)
    example = ", ".join(f"{d}: 1" for d in config.dimensions)
    return (
        f"You compare {n_videos} generated videos for a text prompt. Each video has "
        f"{config.candidate_frames} frames, numbered 1 to {config.candidate_frames}; you first see a few. "
        "To see more, call the tool once per turn:\n"
        '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [3, 7]}}</tool_call>\n'
        f"It returns those frames of every video (at most {config.max_frames_per_call} numbers per call). "
        f"You have at most {config.max_turns} turns; only the latest {config.memory_window} tool result(s) "
        "keep their images. Reason briefly, then answer for each dimension, "
        f"{dims}, and overall (OA): 1 if video 1 is better, 2 if video 2 is better, 0 for a tie:\n"
        f"<answer>{example}, OA: 1</answer>"
    )


def initial_frame_numbers(config: AgentConfig) -> list[int]:
    """1-based candidate numbers of the frames shown first (uniform among the N candidates)."""
    return [i + 1 for i in uniform_indices(config.candidate_frames, config.initial_frames)]


def frame_label(video: int, frame: int, config: AgentConfig) -> str:
    return f"\nVideo {video + 1}, frame {frame}/{config.candidate_frames}: "


def _frames_content(frames: list[int], n_videos: int, config: AgentConfig) -> list[dict]:
    content = []
    for v in range(n_videos):
        for f in frames:
            content.append({"type": "text", "text": frame_label(v, f, config)})
            content.append(frame_item(v, f, f))
    return content


def first_user_turn(prompt: str, n_videos: int, config: AgentConfig) -> dict:
    frames = initial_frame_numbers(config)
    head = {"type": "text", "text": f"Prompt: {prompt}\nInitial frames:"}
    return {"role": "user", "content": [head, *_frames_content(frames, n_videos, config)]}


def tool_result_turn(frames: list[int], n_videos: int, config: AgentConfig, turns_left: int) -> dict:
    content = [{"type": "text", "text": "Selected frames:"}, *_frames_content(frames, n_videos, config)]
    content.append({"type": "text", "text": _turns_left_note(turns_left)})
    return {"role": "user", "tool_result": True, "frames": list(frames), "content": content}


def tool_error_turn(message: str, turns_left: int) -> dict:
    text = f"Tool error: {message}.{_turns_left_note(turns_left)}"
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def no_action_turn(turns_left: int) -> dict:
    """The reply to a turn with neither a tool call nor an answer."""
    text = f"Call select_frames or give the final <answer>.{_turns_left_note(turns_left)}"
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _turns_left_note(turns_left: int) -> str:
    return "\nLast turn: answer now." if turns_left == 1 else ""
