"""Images and videos for the Qwen-VL processors, prepared as the official scripts did: through
qwen-vl-utils' `process_vision_info` (the installed release, 0.0.14; its image resizing has not
changed since 0.0.8, its video frame count is 0.0.10+'s floor rule, which the UnifiedReward video
scripts need anyway: they call `process_vision_info(..., return_video_kwargs=True)`).

Where transformers 5 would feed the model something else than the 4.4x-4.5x processors the
official scripts ran on, the processor is told what those fed it:
- the sampled frames' metadata (fps, frame numbers) goes with them, so Qwen2.5-VL's temporal
  positions use `second_per_grid_ts = 2 / sample_fps` as the old processors computed it from
  qwen-vl-utils' `fps` (today's processor reads it from the metadata, not from `fps`), and no
  second frame sampling happens (`do_sample_frames=False`);
- Qwen3-VL gets `do_resize=False`, as its qwen-vl-utils recipe passes it (the media are
  already resized to its 32 px grid).

Not reproduced: transformers 4.5x's Qwen2.5-VL `get_rope_index` started the text after a video
at 1 + the largest of its temporal, height and width positions; today's starts it after the
height/width extent only. The two agree while a clip's temporal positions stay within its
spatial extent (short clips: ~5 s at 2 fps), and differ for long ones.
"""
from __future__ import annotations

from pathlib import Path

from vision.images import load_image


def image_entry(path: Path, max_image_pixels: int | None, min_pixels: int | None = None,
                max_pixels: int | None = None) -> dict:
    """A chat-content image: the file's pixels in its own mode (qwen-vl-utils' to_rgb converts
    it, RGBA onto white), checked for the pixel cap and a full decode first."""
    entry = {"type": "image", "image": load_image(path, max_image_pixels, raw=True)}
    if min_pixels:
        entry["min_pixels"] = min_pixels
    if max_pixels:
        entry["max_pixels"] = max_pixels
    return entry


def video_entry(path: Path, nframes: int | None = None, max_pixels: int | None = None) -> dict:
    """A chat-content video (a path: qwen-vl-utils decodes it; 2 fps unless `nframes`)."""
    entry = {"type": "video", "video": str(path)}
    if nframes:
        entry["nframes"] = nframes
    if max_pixels:
        entry["max_pixels"] = max_pixels
    return entry


def is_qwen3(processor) -> bool:
    return type(processor).__name__.startswith("Qwen3")


def processor_inputs(processor, messages: list[dict]) -> dict:
    """The media keyword arguments of `processor(text=..., **kwargs)` for these messages."""
    from qwen_vl_utils import process_vision_info

    patch = getattr(processor.image_processor, "patch_size", 14)
    images, videos, _ = process_vision_info(messages, image_patch_size=patch, return_video_kwargs=True,
                                            return_video_metadata=True)
    kwargs: dict = {}
    if images:
        kwargs["images"] = images
    if videos:
        frames, metadata = zip(*videos)
        kwargs.update(videos=list(frames), video_metadata=[dict(m) for m in metadata], do_sample_frames=False)
    if is_qwen3(processor):
        kwargs["do_resize"] = False
    return kwargs


def strip_media(messages: list[dict]) -> list[dict]:
    """The messages with bare {"type": "image"|"video"} parts: what the chat template renders."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [{"type": p["type"]} if p["type"] in ("image", "video") else p for p in content]
        out.append({**m, "content": content})
    return out
