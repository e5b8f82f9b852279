"""The decord backend: seeks by frame index and converts only the requested frames."""
from __future__ import annotations

import numpy as np

from .source import open_source


class DecordBackend:
    """decord: seeks by frame index and converts only the requested frames."""

    name = "decord"

    def __init__(self, source, num_threads: int = 1):
        """`source`: a path or encoded bytes (decord reads file-like objects in memory)."""
        import decord

        # decord/ffmpeg print to stderr for every file they reject; the reader
        # reports failures itself, so the noise would only confuse users.
        decord.logging.set_level(decord.logging.QUIET)
        self._vr = decord.VideoReader(open_source(source), num_threads=num_threads)
        self.num_frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())
        self.frames_decoded = 0
        self.note = None

    def key_indices(self) -> list[int]:
        """Where decord believes the keyframes are (its seeks start there)."""
        return [int(k) for k in self._vr.get_key_indices()]

    def decode(self, indices: list[int]) -> list[np.ndarray]:
        batch = self._vr.get_batch(indices).asnumpy()
        self.frames_decoded += len(indices)
        return list(batch)

    def close(self) -> None:
        self._vr = None
