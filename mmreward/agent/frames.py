"""Decoded frames for the image references in a conversation.

`FrameStore` opens each video once (a path, or a source opened from any record form), maps the
1-based candidate numbers 1..N of each video to frame indices (N uniform samples,
`video.sampling`; a one-frame clip, i.e. an image, gives the same frame for every number), and
decodes a frame only the first time it is asked for. `materialize` swaps references for PIL images.
"""
from __future__ import annotations

import os
from pathlib import Path

from video.errors import VideoError
from video.reader import VideoReader
from video.sampling import uniform_indices


class FrameStore:
    def __init__(self, videos: list[str | os.PathLike], candidate_frames: int,
                 max_pixels: int | None = None, media_root: str | Path | None = None, side: int = 0):
        """Open every video now, so that a bad file fails before any model work (VideoError).
        Frames are shrunk under `max_pixels` (None or 0: never), then resized to `side` x `side`
        when `side` is set."""
        from mmreward.scoring.media import MediaError, resolve_media

        self._setup(candidate_frames, max_pixels, side)
        try:
            for v in videos:
                try:
                    path = resolve_media(str(v), media_root)
                except MediaError as exc:
                    raise VideoError(v, str(exc)) from None
                reader = VideoReader(path)
                self._add(reader, reader.get_frames)
        except Exception:
            self.close()
            raise

    @classmethod
    def for_config(cls, videos, config, media_root=None) -> "FrameStore":
        """The store an AgentConfig's episodes read: its candidates, pixel bound and side."""
        return cls(videos, config.candidate_frames, config.frame_max_pixels, media_root, config.frame_side)

    @classmethod
    def of_sources(cls, sources: list, config) -> "FrameStore":
        """A store over videos already opened, in any form a scoring record accepts
        (`mmreward.scoring.media.VideoSource`: decoding errors are MediaErrors naming the video)."""
        store = cls.__new__(cls)
        store._setup(config.candidate_frames, config.frame_max_pixels, config.frame_side)
        for src in sources:
            store._add(src, src.frames)
        return store

    def _setup(self, candidate_frames: int, max_pixels: int | None, side: int) -> None:
        self.candidate_frames, self.max_pixels, self.side = candidate_frames, max_pixels or None, side
        self._readers, self._decode, self._candidates = [], [], []
        self._cache: dict[tuple[int, int], object] = {}

    def _add(self, reader, decode) -> None:
        self._readers.append(reader)
        self._decode.append(decode)
        self._candidates.append(uniform_indices(reader.num_frames, self.candidate_frames))

    def __len__(self) -> int:
        return len(self._readers)

    def frame_index(self, video: int, frame: int) -> int:
        """0-based index in the file of candidate frame `frame` (1-based) of `video`."""
        if not 1 <= frame <= self.candidate_frames:
            raise IndexError(f"frame {frame} out of range 1..{self.candidate_frames}")
        return self._candidates[video][frame - 1]

    def prefetch(self, refs) -> None:
        """Decode the not-yet-cached (video, frame) pairs, one batch per video."""
        from PIL import Image

        todo: dict[int, list[int]] = {}
        for v, f in refs:
            if (v, f) not in self._cache:
                todo.setdefault(v, []).append(f)
        for v, frames in todo.items():
            frames = list(dict.fromkeys(frames))
            arrays = self._decode[v]([self.frame_index(v, f) for f in frames], self.max_pixels)
            for f, a in zip(frames, arrays):
                im = Image.fromarray(a)
                self._cache[(v, f)] = im.resize((self.side, self.side), Image.BICUBIC) if self.side else im

    def image(self, video: int, frame: int):
        self.prefetch([(video, frame)])
        return self._cache[(video, frame)]

    @property
    def frames_decoded(self) -> int:
        return sum(getattr(r, "frames_decoded", 0) for r in self._readers)

    def close(self) -> None:
        for r in self._readers:
            r.close()

    def __enter__(self) -> "FrameStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def image_refs(messages: list[dict]) -> list[tuple[int, int]]:
    """(video, frame) of every image reference, in the order the processor needs them."""
    return [(item["video"], item["frame"]) for m in messages if isinstance(m.get("content"), list)
            for item in m["content"] if _is_ref(item)]


def materialize(messages: list[dict], store: FrameStore) -> list[dict]:
    """Copies of `messages` whose image references carry the PIL image under "image"."""
    store.prefetch(image_refs(messages))
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list) and any(_is_ref(c) for c in content):
            content = [{**c, "image": store.image(c["video"], c["frame"])} if _is_ref(c) else c
                       for c in content]
            m = {**m, "content": content}
        out.append(m)
    return out


def images_of(messages: list[dict]) -> list:
    """The PIL images of materialized messages, in order."""
    return [item["image"] for m in messages if isinstance(m.get("content"), list)
            for item in m["content"] if isinstance(item, dict) and item.get("type") == "image"]


def _is_ref(item) -> bool:
    return isinstance(item, dict) and item.get("type") == "image" and "video" in item and "frame" in item
