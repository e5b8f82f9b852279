"""The scoring record (docs/architecture.md, "Scoring records"): validation and media loading,
one record at a time.

A record that fails here becomes an `{"id", "error"}` output line; nothing
about it reaches the model, so one bad line never costs a batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmreward.errors import MediaError, RecordError
from mmreward.scoring.media import MediaOptions, open_image, open_video_frames

__all__ = ["Candidate", "Item", "RecordError", "check_record", "load_item"]


@dataclass
class Candidate:
    text: str | None = None
    images: list = field(default_factory=list)  # PIL images
    videos: list = field(default_factory=list)  # uint8 arrays [T, H, W, 3]


@dataclass
class Item:
    """A record with its media decoded, ready to be turned into prompts."""

    id: Any
    prompt: str
    images: list
    videos: list
    candidates: list[Candidate]
    criteria: str | None = None


def _string_list(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{where} must be a list of paths")
    return value


def _load_media(paths: list[str], loader, opts: MediaOptions, where: str) -> list:
    out = []
    for p in paths:
        try:
            out.append(loader(p, opts))
        except MediaError as exc:
            raise RecordError(f"{where}: {exc}") from None
    return out


def check_record(record: Any) -> None:
    """Structural checks only (no I/O)."""
    if not isinstance(record, dict):
        raise RecordError(f"a record must be a JSON object, got {type(record).__name__}")
    prompt = record.get("prompt")
    if not isinstance(prompt, str):
        raise RecordError("missing or non-string field 'prompt'")
    cands = record.get("candidates")
    if not isinstance(cands, list) or not cands:
        raise RecordError("missing or empty field 'candidates'")
    for i, c in enumerate(cands):
        if not isinstance(c, dict):
            raise RecordError(f"candidate {i}: must be an object")
        has_text = isinstance(c.get("text"), str)
        if "text" in c and not has_text:
            raise RecordError(f"candidate {i}: 'text' must be a string")
        if not (has_text or c.get("images") or c.get("videos")):
            raise RecordError(f"candidate {i}: needs 'text', 'images' or 'videos'")
    crit = record.get("criteria")
    if crit is not None and not isinstance(crit, str):
        raise RecordError("'criteria' must be a string")


def load_item(record: dict, opts: MediaOptions) -> Item:
    """Validate `record` and decode all its media; raises RecordError naming the culprit."""
    check_record(record)
    images = _load_media(_string_list(record.get("images"), "images"), open_image, opts, "record")
    videos = _load_media(_string_list(record.get("videos"), "videos"), open_video_frames, opts, "record")
    cands = []
    for i, c in enumerate(record["candidates"]):
        where = f"candidate {i}"
        cands.append(Candidate(
            text=c.get("text"),
            images=_load_media(_string_list(c.get("images"), f"{where} images"), open_image, opts, where),
            videos=_load_media(_string_list(c.get("videos"), f"{where} videos"), open_video_frames, opts, where),
        ))
    return Item(id=record.get("id"), prompt=record["prompt"], images=images, videos=videos,
                candidates=cands, criteria=record.get("criteria"))
