"""Records with media in memory -> JSON records for the service (media as data: URIs).

An image in memory (PIL, numpy, torch, encoded bytes) goes through the same conversion
the in-process path uses (`mmreward.scoring.media.open_image`: layout, dtype, pixel cap)
and is sent as a lossless PNG, so the service sees exactly the pixels an in-process model
would. A video given as frames is sent as `{"frames": [PNG data URIs], "fps": ...}`;
encoded video bytes as one data URI. Strings (paths, data URIs) are sent as they are,
except that with `media_root` a path is read here, confined to that root, and inlined.
Each distinct object, and each path read here, is encoded once per call (TRL repeats a
prompt's image for every completion).
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping

import numpy as np

from mmreward.errors import MediaError, RecordError
from mmreward.scoring.datauri import encode_data_uri, is_data_uri
from mmreward.scoring.media import MediaOptions, open_image, resolve_media

OCTET = "application/octet-stream"


class Encoder:
    def __init__(self, media_root=None):
        self.media_root = media_root
        self.opts = MediaOptions(media_root=media_root)
        # id(value) -> (value, URI): the value is kept so that its id stays its own for the whole
        # call (a video array's frames are views made and dropped one by one: a freed view's id
        # comes back for a later frame, which would then be sent as the earlier one)
        self.memo: dict[int, tuple[object, str]] = {}
        self.files: dict[str, str] = {}  # path under media_root -> its data URI (read once per call)

    def as_sent(self, value, kind: str):
        """A path, data URI or encoded bytes as they go (alike for images and videos); else None."""
        if isinstance(value, (str, os.PathLike)) and not is_data_uri(value):
            return self.path(os.fspath(value), kind)
        if isinstance(value, str):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return encode_data_uri(bytes(value), OCTET)
        return None

    def image(self, value, index: int):
        sent = self.as_sent(value, "image")
        if sent is not None:
            return sent
        key = id(value)
        if key not in self.memo:
            buffer = io.BytesIO()
            open_image(value, self.opts, index).save(buffer, format="PNG")
            self.memo[key] = (value, encode_data_uri(buffer.getvalue(), "image/png"))
        return self.memo[key][1]

    def video(self, value, index: int):
        sent = self.as_sent(value, "video")
        if sent is not None:
            return sent
        if isinstance(value, Mapping):
            return {**value, "frames": self.frames(value.get("frames"), index)}
        return {"frames": self.frames(value, index)}

    def frames(self, frames, index: int) -> list:
        if frames is None or isinstance(frames, (str, bytes, Mapping)):
            raise MediaError(f"video {index}: frames must be a THWC array, a TCHW tensor or a list of images")
        return [self.image(frame, t) for t, frame in enumerate(frames)]

    def path(self, path: str, kind: str) -> str:
        if self.media_root is None:
            return path  # for the server to read under its own --media-root
        if path not in self.files:
            full = resolve_media(path, self.media_root)
            if not full.is_file():
                raise MediaError(f"{kind} '{path}' not found under media root")
            self.files[path] = encode_data_uri(full.read_bytes(), OCTET)
        return self.files[path]

    def media(self, values, kind: str, where: str):
        if values is None:
            return None
        if not isinstance(values, (list, tuple)):
            raise RecordError(f"{where} {kind} must be a list, got {type(values).__name__}")
        encode = self.image if kind == "images" else self.video
        try:
            return [encode(v, k) for k, v in enumerate(values)]
        except MediaError as exc:
            raise MediaError(f"{where}: {exc}") from None

    def holder(self, obj: Mapping, where: str) -> dict:
        out = {k: jsonable(v) for k, v in obj.items() if k not in ("images", "videos", "candidates")}
        for kind in ("images", "videos"):
            if obj.get(kind) is not None:
                out[kind] = self.media(obj[kind], kind, where)
        return out

    def record(self, record):
        if not isinstance(record, Mapping):
            return record  # the server names the problem in this record's slot
        out = self.holder(record, "record")
        if isinstance(record.get("candidates"), (list, tuple)):
            out["candidates"] = [self.holder(c, f"candidate {i}") if isinstance(c, Mapping) else c
                                 for i, c in enumerate(record["candidates"])]
        return out


def jsonable(value):
    """Numbers and containers as JSON has them (numpy scalars and arrays become Python values)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def to_json_records(records: list, media_root=None) -> tuple[list, dict[int, dict]]:
    """(records ready for `json.dumps`, {index: error output} for the records that cannot be
    encoded): a bad record gets its error entry here, as it would in-process."""
    encoder = Encoder(media_root)
    out, errors = [], {}
    for i, record in enumerate(records):
        try:
            out.append(encoder.record(record))
        except RecordError as exc:
            out.append(None)
            errors[i] = {"id": record.get("id"), "error": str(exc)}
    return out, errors
