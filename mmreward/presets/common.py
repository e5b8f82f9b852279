"""What the released-model presets share: runtime options, record media.

A preset reproduces one released model's own inference, so its options dataclass holds only the
load options that keep it (`mmreward.families`: a criteria text or a yes/no form is refused
there, not silently ignored).
"""
from __future__ import annotations

from typing import Any

from mmreward.errors import RecordError
from mmreward.scoring.records import check_record


def backbone_options(options: dict):
    """The runtime options as `mmreward.models.backbone.BackboneOptions` (no pixel bounds: a
    preset feeds media as its official script did)."""
    from mmreward.models.backbone import BackboneOptions

    return BackboneOptions(dtype=options.get("dtype"), device=options.get("device"),
                           attn_implementation=options.get("attn_implementation"))


def media_list(holder: dict, kind: str, where: str) -> list:
    """`holder[kind]` (a record's or a candidate's images/videos, in any form) as a list."""
    value = holder.get(kind)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise RecordError(f"{where} {kind} must be a list, got {type(value).__name__} (wrap a single one in a list)")
    return list(value)


def candidate_media(record: dict, kinds: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(kind, media) of each candidate's single image or video (in any form a record accepts,
    opened later), checked against what the model takes (`kinds`: "images", "videos"); the
    record itself may hold no media (these models judge the candidates' own)."""
    check_record(record)
    if media_list(record, "images", "record") or media_list(record, "videos", "record"):
        raise RecordError("this model judges the candidates' own media; the record may not hold "
                          "'images' or 'videos' of its own")
    out = []
    for i, cand in enumerate(record["candidates"]):
        where = f"candidate {i}"
        held = {k: items for k in ("images", "videos") if (items := media_list(cand, k, where))}
        if cand.get("text") is not None:
            raise RecordError(f"{where}: this model judges generated {' or '.join(kinds)}, not text")
        if len(held) != 1 or next(iter(held)) not in kinds or len(next(iter(held.values()))) != 1:
            raise RecordError(f"{where}: needs exactly one of {' or '.join(kinds)} (one each)")
        kind, (media,) = next(iter(held.items()))
        out.append((kind, media))
    if len({k for k, _ in out}) > 1:
        raise RecordError("candidates mix images and videos; judge one kind at a time")
    return out
