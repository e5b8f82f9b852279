"""The PyAV backend: the fallback when decord is missing or cannot open a file.

Opening demuxes the stream once (packets only, no decoding; milliseconds) to
learn three things headers can get wrong or leave out: the true frame count
(truncated files still declare the full count), each frame's timestamp in
presentation order, and where the keyframes are.

Reading then seeks to the last keyframe at or before the first wanted frame
and decodes forward, naming each decoded frame by its timestamp (exact with
B-frames, where decode order != display order); it re-seeks when the next
wanted frame lies beyond another keyframe. Streams whose timestamps are missing
or ambiguous are decoded sequentially from the start instead.
"""
from __future__ import annotations

from bisect import bisect_right

import numpy as np

from .errors import VideoError
from .source import open_source, source_name


class _Sequential(Exception):
    """Timestamps cannot name the frames: decode from the start and count."""


class PyAVBackend:
    name = "pyav"

    def __init__(self, source: str | bytes, num_threads: int = 1):
        """`source`: a path or encoded bytes."""
        import av

        self._source = source
        self._path = path = source_name(source)
        self._threads = num_threads
        with av.open(open_source(source)) as container:
            stream = _video_stream(container, path)
            declared = stream.frames
            packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
            self.num_frames = len(packets)
            self.fps = _frame_rate(stream, container, self.num_frames, path)
        if declared and self.num_frames < declared:
            raise VideoError(path, f"truncated: header declares {declared} frames, "
                                   f"only {self.num_frames} present")
        self._index_of, self._keyframes = _frame_index(packets)
        self.frames_decoded = 0
        self.note = None

    def key_indices(self) -> list[int]:
        """Display positions of the keyframes (empty when timestamps cannot tell)."""
        return [k for k, _ in self._keyframes]

    def decode(self, indices: list[int]) -> list[np.ndarray]:
        """Frames at sorted, distinct, in-range `indices`."""
        out: dict[int, np.ndarray] = {}
        try:
            if self._index_of is None:
                raise _Sequential
            self._decode_seeking(indices, out)
        except _Sequential:
            out.clear()
            self._decode_sequential(indices, out)
        missing = [i for i in indices if i not in out]
        if missing:
            raise VideoError(self._path, f"frame {missing[0]} could not be decoded "
                                         f"(stream ended early: truncated or corrupt?)")
        return [out[i] for i in indices]

    def _decode_seeking(self, indices: list[int], out: dict) -> None:
        import av

        with av.open(open_source(self._source)) as container:
            stream = self._stream(container)
            todo = list(indices)
            while todo:
                start = self._keyframe_before(todo[0])
                container.seek(self._keyframes[start][1], stream=stream, backward=True, any_frame=False)
                got = len(out)
                for frame in container.decode(stream):
                    self.frames_decoded += 1
                    idx = self._index_of.get(frame.pts)
                    if idx is None:
                        raise _Sequential
                    if idx < self._keyframes[start][0]:
                        continue  # shown before the keyframe (open GOP): not what this pass is for
                    if idx in todo:
                        out[idx] = frame.to_ndarray(format="rgb24")
                        todo.remove(idx)
                    # stop when done, or re-seek when a keyframe lies between here and the next frame wanted
                    if not todo or self._keyframe_before(todo[0]) > self._keyframe_before(idx):
                        break
                if len(out) == got:  # a pass that found nothing: the rest is not decodable
                    return

    def _decode_sequential(self, indices: list[int], out: dict) -> None:
        import av

        wanted, last = set(indices), indices[-1]
        with av.open(open_source(self._source)) as container:
            for i, frame in enumerate(container.decode(self._stream(container))):
                self.frames_decoded += 1
                if i in wanted:
                    out[i] = frame.to_ndarray(format="rgb24")
                if i >= last:  # later frames are never needed
                    return

    def _keyframe_before(self, index: int) -> int:
        """Position in self._keyframes of the last keyframe at or before frame `index`."""
        return max(0, bisect_right(self._keyframes, (index, float("inf"))) - 1)

    def _stream(self, container):
        stream = container.streams.video[0]
        if self._threads:
            stream.thread_count = self._threads
        return stream

    def close(self) -> None:
        pass


def _frame_index(packets: list[tuple]) -> tuple[dict | None, list[tuple[int, int]]]:
    """({pts: display index}, [(display index, pts) of keyframes]), or (None, []) when
    timestamps are missing or repeat, or the stream does not start with a keyframe."""
    pts = [p for p, _ in packets]
    if not pts or any(p is None for p in pts) or len(set(pts)) != len(pts):
        return None, []
    index_of = {p: i for i, p in enumerate(sorted(pts))}
    keyframes = sorted((index_of[p], p) for p, key in packets if key)
    if not keyframes or keyframes[0][0] != 0:
        return None, []
    return index_of, keyframes


def frame_size(source: str | bytes) -> tuple[int, int]:
    """(width, height) of the first video stream as ffmpeg's stream probe reports it, read
    without decoding any frame for the caller (the probe itself may decode the first ones, as
    every ffmpeg open does). ffmpeg reports 0x0 for frames it will not decode (corrupt, or over
    its own limit of about 268 MP); raises VideoError for a file with no video stream."""
    import av

    with av.open(open_source(source)) as container:
        context = _video_stream(container, source_name(source)).codec_context
        return int(context.width), int(context.height)


def _video_stream(container, path: str):
    if container.streams.video:
        return container.streams.video[0]
    if container.streams.audio:
        raise VideoError(path, "no video stream (audio-only file)")
    raise VideoError(path, "no video stream")


def _frame_rate(stream, container, num_frames: int, path: str) -> float:
    rate = stream.average_rate or stream.guessed_rate
    if rate:
        return float(rate)
    if container.duration and num_frames:  # container.duration is in microseconds
        return num_frames / (container.duration / 1_000_000)
    raise VideoError(path, "unknown frame rate")
