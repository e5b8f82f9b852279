"""`data:` URIs (RFC 2397, base64 only): how JSON carries media (CLI files, the service).

A JSON string that starts with `data:` is a data URI; any other string is a path.
"""
from __future__ import annotations

import base64
import binascii

from mmreward.errors import MediaError

__all__ = ["decode_data_uri", "encode_data_uri", "is_data_uri"]

_URLSAFE = str.maketrans("-_", "+/")


def is_data_uri(value) -> bool:
    return isinstance(value, str) and value[:5].lower() == "data:"


def encode_data_uri(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,<data>`, e.g. encode_data_uri(png_bytes, "image/png")."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_uri(uri: str, kind: str, subject: str, max_bytes: int | None) -> bytes:
    """The bytes of `uri` (`data:<type>;base64,<data>`), checked against `max_bytes` before decoding.

    `kind` ("image" or "video") must match the media type when one is given
    (`application/octet-stream` and an empty type are accepted for both).
    Line breaks and URL-safe base64 (`-`, `_`) are accepted.
    """
    head, sep, payload = uri.partition(",")
    if not sep:
        raise MediaError(f"{subject}: data URI has no ',' between its header and its data")
    params = [p.strip().lower() for p in head[5:].split(";")]
    mime = params[0]
    if "base64" not in params[1:]:
        raise MediaError(f"{subject}: data URI is not base64-encoded "
                         f"(expected data:{mime or kind + '/...'};base64,...)")
    if mime not in ("", "application/octet-stream") and not mime.startswith(f"{kind}/"):
        raise MediaError(f"{subject}: data URI of type '{mime}' is not an {kind}")
    payload = "".join(payload.split())
    if max_bytes and len(payload) // 4 * 3 > max_bytes:
        raise MediaError(f"{subject}: data URI holds about {len(payload) // 4 * 3 / 1e6:.1f} MB, over "
                         f"the cap of {max_bytes / 1e6:.1f} MB")
    try:
        data = base64.b64decode(payload.translate(_URLSAFE), validate=True)
    except (binascii.Error, ValueError):
        raise MediaError(f"{subject}: invalid base64 in data URI") from None
    if not data:
        raise MediaError(f"{subject}: data URI is empty")
    return data
