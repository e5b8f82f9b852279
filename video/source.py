"""What a video can be read from: a path, or its encoded bytes (read in memory, never written out)."""
from __future__ import annotations

import io


def open_source(source: str | bytes):
    """What decord and PyAV open: the path itself, or a fresh file-like view of the bytes."""
    return io.BytesIO(source) if isinstance(source, bytes) else source


def source_name(source: str | bytes) -> str:
    """How messages name a video: its path, or "<N bytes>" for one given in memory."""
    return source if isinstance(source, str) else f"<{len(source)} bytes>"
