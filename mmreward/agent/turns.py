"""An episode turn by turn, as the model lived it: the output's `"trace"`.

For assistant turn i: `prompt_text`, the text the model was given (the windowed context after the
chat template, with the generation prompt; images appear as their vision placeholders),
`frames`, the frames in that context in order ({"video": 1-based, "frame": the number the model
knows it by}), `assistant`, what it wrote, and `tool`, the environment's answer to it as the model
reads it (None after the last turn), with `tool_frames`, the frames that answer carried.
"""
from __future__ import annotations

from .context import assistant_positions, context_for_turn


def frame_refs(messages: list[dict]) -> list[dict]:
    return [{"video": item["video"] + 1, "frame": item.get("number", item["frame"])}
            for m in messages if isinstance(m.get("content"), list)
            for item in m["content"] if isinstance(item, dict) and item.get("type") == "image" and "video" in item]


def message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(item.get("text", "") for item in content or [] if item.get("type") == "text")


def render(processor, messages: list[dict]) -> str:
    """`messages` after the chat template, ending with the assistant generation prompt."""
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def turn_records(trace, memory_window: int, processor=None) -> list[dict]:
    """One record per assistant turn of `trace` (`prompt_text` is None without a processor)."""
    positions = assistant_positions(trace.messages)
    out = []
    for i, pos in enumerate(positions):
        context = context_for_turn(trace.messages, i, memory_window)
        reply = trace.messages[pos + 1] if pos + 1 < len(trace.messages) else None
        out.append({"prompt_text": render(processor, context) if processor is not None else None,
                    "frames": frame_refs(context), "assistant": trace.turns[i],
                    "tool": message_text(reply) if reply is not None else None,
                    "tool_frames": frame_refs([reply]) if reply is not None else []})
    return out
