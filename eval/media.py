"""Media paths from benchmark data, confined to a media root.

Data files name their media relative to a root. A path may not be absolute, may not
contain '..', and may not resolve (through symlinks) outside the root: benchmark files
come from the internet and must not make us read arbitrary files.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from eval.errors import DataError
from mmreward.scoring.media import MediaError, resolve_media


def normalize(rel: object, context: str) -> str:
    """Clean relative posix path ('./a//b.mp4' -> 'a/b.mp4'); DataError if unsafe."""
    if not isinstance(rel, str) or not rel.strip():
        raise DataError(f"{context}: media path must be a non-empty string, got {rel!r}")
    text = rel.strip().replace("\\", "/")
    if "://" in text:
        raise DataError(f"{context}: media path {rel!r} is a URL; download it and give a relative path")
    pure = PurePosixPath(text)
    if pure.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise DataError(f"{context}: media path {rel!r} is absolute; paths must be relative to the media root")
    if ".." in pure.parts:
        raise DataError(f"{context}: media path {rel!r} contains '..'; paths must stay inside the media root")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        raise DataError(f"{context}: media path {rel!r} names no file")
    return "/".join(parts)


def resolve(root: str | Path, rel: str, context: str) -> Path:
    """Absolute path of `rel` under `root`; DataError if it escapes the root (symlinks included).

    The confinement itself is the scorer's (`mmreward.scoring.media.resolve_media`), so a path
    accepted here is one `score` will accept.
    """
    try:
        return resolve_media(normalize(rel, context), root)
    except MediaError as exc:
        raise DataError(f"{context}: media path {rel!r}: {exc} {Path(root).resolve()}") from None


def missing(root: str | Path, rels: list[str], context: str) -> list[str]:
    """The paths among `rels` that are not files under `root` (unsafe paths raise)."""
    return [rel for rel in rels if not resolve(root, rel, context).is_file()]
