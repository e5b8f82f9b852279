"""The scoring record (docs/architecture.md, "Scoring records"): validation and media loading,
one record at a time.

A record that fails here becomes an `{"id", "error"}` output line; nothing
about it reaches the model, so one bad line never costs a batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmreward.errors import MediaError, RecordError
from mmreward.scoring.media import MediaOptions, check_fps, open_image, open_video

__all__ = ["Candidate", "Item", "RecordError", "check_record", "load_item"]


@dataclass
class Candidate:
    text: str | None = None
    images: list = field(default_factory=list)  # RGB PIL images
    videos: list = field(default_factory=list)  # video.SampledClip: frames [T, H, W, 3] uint8 + timing


@dataclass
class Item:
    """A record with its media decoded, ready to be turned into prompts."""

    id: Any
    prompt: str
    images: list
    videos: list
    candidates: list[Candidate]
    criteria: str | None = None


def _media_list(value, where: str) -> list:
    """A record's `images` / `videos` field: a list (or tuple) of media in any accepted form."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RecordError(f"{where} must be a list, got {type(value).__name__} (wrap a single one in a list)")
    return list(value)


def _present(value) -> bool:
    """Whether a media field holds something (without asking an array for its truth value)."""
    return value is not None and (not isinstance(value, (list, tuple)) or len(value) > 0)


def _load(values, kind: str, opts: MediaOptions, where: str, fps=None, raw: bool = False) -> list:
    """Decode a record's `images` or `videos` field; errors name `where` and the culprit."""
    out = []
    for k, v in enumerate(_media_list(values, f"{where} {kind}")):
        try:
            if kind == "images" and opts.image_fit is not None:
                out.append(opts.image_fit(open_image(v, opts, k, raw=raw)))  # no full-size image kept past its fit
            else:
                out.append(open_image(v, opts, k, raw=raw) if kind == "images" else open_video(v, opts, k, fps))
        except MediaError as exc:
            raise type(exc)(f"{where}: {exc}") from None  # keeps the kind (MediaNotFoundError is retried)
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
        if not (has_text or _present(c.get("images")) or _present(c.get("videos"))):
            raise RecordError(f"candidate {i}: needs 'text', 'images' or 'videos'")
    crit = record.get("criteria")
    if crit is not None and not isinstance(crit, str):
        raise RecordError("'criteria' must be a string")
    check_fps(record.get("fps"), "record", None)


def load_item(record: dict, opts: MediaOptions, raw_images: bool = False) -> Item:
    """Validate `record` and decode all its media; raises RecordError naming the culprit.

    Media may be given in any form `mmreward.scoring.media` accepts; the record's `fps`
    is the frame rate of its videos given as frames (unless a video carries its own).
    `raw_images`: images keep their own mode and orientation (`open_image(raw=True)`).
    """
    check_record(record)
    fps = record.get("fps")
    images = _load(record.get("images"), "images", opts, "record", raw=raw_images)
    videos = _load(record.get("videos"), "videos", opts, "record", fps)
    cands = []
    for i, c in enumerate(record["candidates"]):
        where = f"candidate {i}"
        cands.append(Candidate(text=c.get("text"), images=_load(c.get("images"), "images", opts, where, raw=raw_images),
                               videos=_load(c.get("videos"), "videos", opts, where, fps)))
    return Item(id=record.get("id"), prompt=record["prompt"], images=images, videos=videos,
                candidates=cands, criteria=record.get("criteria"))
