"""What the released-model presets share: option checks, record media, the chunk loop, outputs.

A preset reproduces one released model's own inference, so it refuses the load options that
would change it (a criteria text, a yes/no form) instead of silently ignoring them.
"""
from __future__ import annotations

from typing import Any, Iterable

from mmreward.errors import ConfigError, RecordError
from mmreward.scoring.media import MEDIA_CAPS, MediaOptions
from mmreward.scoring.records import check_record

# load() options that only decide where and how fast the backbone runs: every preset takes them
RUNTIME_OPTIONS = ("dtype", "device", "attn_implementation", "preset")


def take_options(family: str, options: dict, allowed: Iterable[str]) -> dict:
    """`options` without the unset ones; a set option this family does not use is a ConfigError."""
    allowed = set(allowed) | set(RUNTIME_OPTIONS)
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(k for k in given if k not in allowed)
    if unknown:
        raise ConfigError(
            f"{family} runs its released inference as published and does not take "
            f"{', '.join(unknown)}; it takes: {', '.join(sorted(allowed - set(RUNTIME_OPTIONS)))}")
    return given


def check_count(family: str, options: dict, names: Iterable[str], minimum: int = 1) -> None:
    """Counts among `options` (a generation limit, ...) that cannot work, refused at load, before
    any record is scored (else every record would become the same permanent error line)."""
    for name in names:
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise ConfigError(f"{family}: {name} must be an integer of at least {minimum}, got {value!r}")


def backbone_options(options: dict):
    """The runtime options as `mmreward.models.backbone.BackboneOptions` (no pixel bounds: a
    preset feeds media as its official script did)."""
    from mmreward.models.backbone import BackboneOptions

    return BackboneOptions(dtype=options.get("dtype"), device=options.get("device"),
                           attn_implementation=options.get("attn_implementation"))


def media_options(options: dict) -> MediaOptions:
    """The record media limits among a preset's options (`MEDIA_CAPS`; unset: the defaults)."""
    return MediaOptions(**{k: options[k] for k in MEDIA_CAPS if options.get(k) is not None})


def check_mode(family: str, mode: str | None, kind: str) -> None:
    if mode is not None and mode != kind:
        raise ConfigError(f"{family} is a {kind} model; mode={mode!r} does not apply to it")


def preferred(rewards: list[float]) -> int:
    return max(range(len(rewards)), key=lambda i: rewards[i])


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
