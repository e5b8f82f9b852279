"""The video agent's visual memory window.

A conversation in the Qwen chat format, where each `select_frames` tool result
comes back as a user turn carrying images:

    {"role": "user", "tool_result": True, "frames": [12, 16],
     "content": [{"type": "text", "text": "Frames 12, 16 of video 1:"},
                 {"type": "image", "image": <PIL image or array>},
                 {"type": "image", "image": <PIL image or array>}]}

A user turn is a tool result exactly when `message.get("tool_result") is True`
(nothing else, so ordinary user turns with images, e.g. the initial uniformly
sampled frames, are never touched). `"frames"` is optional: the frame numbers
as the model named them, used only to word the placeholder; an image item's own
`"frame"` key works too.

`apply_memory_window(messages, p)` keeps the images of the last p tool results
and replaces, in every older tool result, its images with one short text item
where the first image stood, or, when the message has `"dropped_as": TEXT`, each image
with TEXT ("" removes them: what the published VR-Thinker rollouts do). All text stays, in order. The agent loop (before
each generation) and the SFT data builder (on every training prefix) must call
this same function, so that training sees exactly what inference sees.
"""
from __future__ import annotations

TOOL_RESULT_KEY = "tool_result"


def is_tool_result(message: dict) -> bool:
    """True for user turns that carry a tool's result (see the module docstring)."""
    return message.get("role") == "user" and message.get(TOOL_RESULT_KEY) is True


def placeholder_text(frames: list | None, n_images: int) -> str:
    """What replaces dropped images: names the frames when they are known."""
    if frames:
        noun = "frame" if len(frames) == 1 else "frames"
        verb = "was" if len(frames) == 1 else "were"
        return f"[{noun} {', '.join(str(f) for f in frames)} from an earlier tool call {verb} dropped from memory]"
    noun = "image" if n_images == 1 else "images"
    verb = "was" if n_images == 1 else "were"
    return f"[{n_images} {noun} from an earlier tool call {verb} dropped from memory]"


def apply_memory_window(messages: list[dict], p: int = 1) -> list[dict]:
    """A new message list where only the last `p` tool results keep their images.

    p = 0 drops the images of every tool result. The input list and its
    messages are not modified; untouched messages are shared, changed ones copied.
    """
    if p < 0:
        raise ValueError(f"memory window p must be >= 0, got {p}")
    tool_turns = [i for i, m in enumerate(messages) if is_tool_result(m)]
    forget = set(tool_turns[: max(0, len(tool_turns) - p)])
    return [_drop_images(m) if i in forget else m for i, m in enumerate(messages)]


def _drop_images(message: dict) -> dict:
    content = message.get("content")
    if not isinstance(content, list):
        return message  # plain-string content has no images
    images = [item for item in content if _is_image(item)]
    if not images:
        return message
    if "dropped_as" in message:  # the message says what each of its images becomes ("" = nothing)
        text = message["dropped_as"]
        kept = [({"type": "text", "text": text} if _is_image(item) else item) for item in content
                if text or not _is_image(item)]
        return {**message, "content": kept}
    frames = [item["frame"] for item in images if "frame" in item]
    if len(frames) != len(images):
        frames = message.get("frames")
    text = {"type": "text", "text": placeholder_text(frames, len(images))}
    new_content, placed = [], False
    for item in content:
        if not _is_image(item):
            new_content.append(item)
        elif not placed:
            new_content.append(text)
            placed = True
    return {**message, "content": new_content}


def _is_image(item) -> bool:
    return isinstance(item, dict) and item.get("type") == "image"


def count_images(messages: list[dict]) -> int:
    """Image items across all messages (what the processor will have to encode)."""
    return sum(1 for m in messages if isinstance(m.get("content"), list)
               for item in m["content"] if _is_image(item))
