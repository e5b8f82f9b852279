"""`VideoReader`: frame count, fps, duration and random access to frames, of a file or of
encoded bytes (mp4, webm, ...; decoded in memory, never written to disk).

decord first; PyAV when decord is not installed, cannot open the file, would seek to wrong
frames, or cannot decode the frames it opened (PyAV also gives the precise cause, e.g.
"audio-only", when neither can read it).
Every failure to read a file surfaces as `VideoError`; out-of-range indices are
caller bugs and raise IndexError.

Not thread-safe: open one reader per thread.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .backends import BACKENDS, PyAVBackend
from .errors import VideoError
from .resize import resize_frames
from .sampling import uniform_indices
from .source import source_name

# "[14:31:56] /github/workspace/src/video/video_reader.cc:151: " in decord messages
_DECORD_PREFIX = re.compile(r"^\[[^\]]*\]\s*(\S+:\d+:\s*)?")


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    duration: float  # seconds, defined as num_frames / fps
    backend: str


@dataclass(frozen=True)
class SampledClip:
    """Frames sampled from a video, with where they came from.

    The Qwen-VL processors need the timing: Qwen2.5-VL places video tokens in time
    by `second_per_grid_ts` and Qwen3-VL writes `<t seconds>` before each frame
    group; given bare frames both assume a 24 fps clip read frame by frame.
    """

    frames: np.ndarray  # (T, H, W, 3) uint8
    indices: list[int]  # 0-based frame numbers in the file
    fps: float
    total_frames: int

    def metadata(self) -> dict:
        """transformers' VideoMetadata fields for these frames."""
        return {"total_num_frames": self.total_frames, "fps": self.fps, "frames_indices": list(self.indices),
                "duration": self.total_frames / self.fps if self.fps else None,
                "height": int(self.frames.shape[1]), "width": int(self.frames.shape[2])}


class _Clip:
    """What `VideoReader` and `FramesReader` share: uniform sampling and lifetime, over the
    `num_frames`, `fps`, `get_frames(indices, max_pixels)` and `close()` each defines."""

    num_frames: int
    fps: float

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    def uniform_indices(self, n: int) -> list[int]:
        """N candidate frame indices, centres of N equal segments (see video.sampling)."""
        return uniform_indices(self.num_frames, n)

    def sample_uniform(self, n: int, max_pixels: int | None = None) -> tuple[list[int], np.ndarray]:
        """(indices, frames) for N uniformly sampled candidate frames."""
        idx = self.uniform_indices(n)
        return idx, self.get_frames(idx, max_pixels)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.num_frames


class VideoReader(_Clip):
    """Open a video (a path, or its encoded bytes) for random frame access.

    backend: "auto" (decord, then PyAV), "decord" or "pyav".
    num_threads: decoder threads; 0 lets ffmpeg choose. Default 1: random access
    (seek, decode a few frames) gains little from frame threads, and callers
    often open several readers next to a busy model (measured on 2 cores:
    1 thread was never slower than 0 or 2).
    """

    def __init__(self, source: str | os.PathLike | bytes, *, backend: str = "auto", num_threads: int = 1,
                 max_frame_pixels: int | None = None):
        """`max_frame_pixels`: refuse (VideoError) a video whose frames are larger, from the
        stream's header before any backend opens it, and again on the frames decoded."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            source = bytes(source)
            self.path = source_name(source)
            if not source:
                raise VideoError(self.path, "empty (0 bytes)")
        else:
            source = self.path = os.fspath(source)
            _check_file(self.path)
        self.max_frame_pixels = max_frame_pixels
        if max_frame_pixels:
            _check_header_size(source, self.path, max_frame_pixels)
        self._backend = _open_backend(source, self.path, backend, num_threads)
        self._reopen = (source, num_threads) if backend == "auto" else None
        if self._backend.num_frames <= 0:
            raise VideoError(self.path, "video stream has no frames")

    # -- metadata -----------------------------------------------------------------
    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def num_frames(self) -> int:
        return self._backend.num_frames

    @property
    def fps(self) -> float:
        return self._backend.fps

    @property
    def note(self) -> str | None:
        """Why the backend is not the one asked for, when that happened (else None)."""
        return self._backend.note

    @property
    def frames_decoded(self) -> int:
        """Frames the backend has decoded so far (see video.backends)."""
        return self._backend.frames_decoded

    def info(self) -> VideoInfo:
        return VideoInfo(self.path, self.num_frames, self.fps, self.duration, self.backend)

    # -- frames -------------------------------------------------------------------
    def get_frames(self, indices: list[int], max_pixels: int | None = None) -> np.ndarray:
        """(K, H, W, 3) uint8 RGB frames at 0-based `indices`, in the order given.

        Only those frames are decoded (each distinct index once, in ascending
        order so the decoder only moves forward); `max_pixels` shrinks them.
        """
        indices = [self._check_index(i) for i in indices]
        if not indices:
            return np.zeros((0, 0, 0, 3), dtype=np.uint8)
        unique = sorted(set(indices))
        try:
            decoded = dict(zip(unique, self._backend.decode(unique)))
        except VideoError:
            raise
        except Exception as exc:  # decord/PyAV raise their own types for bad data
            decoded = self._decode_with_pyav(unique, exc)
        if self.max_frame_pixels:  # a stream may change size after its header
            for frame in decoded.values():
                _check_size(frame.shape[1], frame.shape[0], self.max_frame_pixels, self.path, "decoded")
        return resize_frames(np.stack([decoded[i] for i in indices]), max_pixels)

    def _decode_with_pyav(self, unique: list[int], exc: Exception) -> dict:
        """Where decord opened a file but cannot decode it (decord 0.6 fails on frames 48 px wide,
        "from_size == to_size"), PyAV reads it, for backend "auto"; else the VideoError."""
        shown = ", ".join(map(str, unique[:8])) + (", ..." if len(unique) > 8 else "")
        error = VideoError(self.path, f"could not decode frames [{shown}]: {_short(exc)}")
        if self._reopen is None or self._backend.name != "decord":
            raise error from exc
        source, num_threads = self._reopen
        try:
            fallback = PyAVBackend(source, num_threads=num_threads)
        except Exception:  # noqa: BLE001 - PyAV missing or unable to open it: decord's error stands
            raise error from exc
        try:
            if fallback.num_frames != self._backend.num_frames:  # other frame numbers: another reading
                raise error from exc
            decoded = dict(zip(unique, fallback.decode(unique)))
        except Exception:  # noqa: BLE001 - PyAV fails too: decord's error stands
            fallback.close()
            raise error from exc
        self._backend.close()
        fallback.note = f"read with PyAV: decord could not decode its frames ({_short(exc)})"
        self._backend = fallback
        return decoded

    def get_images(self, indices: list[int], max_pixels: int | None = None) -> list[Image.Image]:
        """Like get_frames, as PIL images (what the Qwen chat format takes)."""
        return [Image.fromarray(f) for f in self.get_frames(indices, max_pixels)]

    def _check_index(self, i) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"frame index must be an int, got {i!r}")
        if not 0 <= i < self.num_frames:
            raise IndexError(f"frame index {i} out of range 0..{self.num_frames - 1} for '{self.path}'")
        return int(i)

    # -- lifetime -----------------------------------------------------------------
    def close(self) -> None:
        self._backend.close()


def _check_file(path: str) -> None:
    """Reject what no decoder should be handed, with a precise cause."""
    if not os.path.exists(path):
        raise VideoError(path, "file not found")
    if not os.path.isfile(path):
        raise VideoError(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "empty file (0 bytes)")


def _check_size(width: int, height: int, cap: int, path: str, when: str) -> None:
    if width * height > cap:
        raise VideoError(path, f"frames are {width}x{height} = {width * height / 1e6:.1f} MP, over the cap of "
                               f"{cap / 1e6:.1f} MP per frame; refused {when}")


def _check_header_size(source: str | bytes, path: str, cap: int) -> None:
    """The frame size from ffmpeg's stream probe (PyAV), checked before a backend decodes:
    a header can claim frames of hundreds of megapixels in a few kilobytes. Without PyAV, or
    for what PyAV cannot open, the backends decide (and `get_frames` checks what they decode)."""
    try:
        from .pyav_backend import frame_size

        width, height = frame_size(source)
    except VideoError:
        raise
    except Exception:  # noqa: BLE001 - PyAV missing, or a file it cannot open: the backends report
        return
    if not width or not height:
        raise VideoError(path, f"the stream declares no frame size ({width}x{height}): corrupt, or frames "
                               "larger than the decoder accepts; refused before decoding")
    _check_size(width, height, cap, path, "before decoding")


def _open_backend(source: str | bytes, path: str, backend: str, num_threads: int):
    if backend not in ("auto", *BACKENDS):
        raise ValueError(f"unknown video backend {backend!r}; use auto, decord or pyav")
    names = ["decord", "pyav"] if backend == "auto" else [backend]
    # PyAV's scan of bytes before decord sees them serves again: as the PyAV backend, or as
    # the reference of decord's seek check (one scan, not two)
    probed = None
    if "decord" in names and isinstance(source, bytes):
        probed = _probe_bytes(source, path, num_threads)
    causes = []
    for name in names:
        try:
            if name == "pyav" and probed is not None:
                opened = probed
            else:
                opened = BACKENDS[name](source, num_threads=num_threads)
        except ImportError as exc:
            causes.append(f"{name} not installed ({exc})")
        except VideoError:
            raise  # a precise diagnosis: no point asking another backend
        except Exception as exc:
            causes.append(f"{name}: {_short(exc)}")
        else:
            return _check_decord_seeks(source, opened, num_threads, probed) if backend == "auto" else opened
    if all("not installed" in c for c in causes):
        raise RuntimeError("no video backend available: install decord or av (PyAV)")
    # the last backend's message is the most specific (PyAV names ffmpeg's reason)
    raise VideoError(path, f"not a readable video ({causes[-1]})")


def _probe_bytes(source: bytes, path: str, num_threads: int) -> PyAVBackend | None:
    """PyAV's packet scan before decord opens bytes (decord logs the raw bytes it cannot open
    to stderr): the PyAV backend of those bytes, or None without PyAV."""
    try:
        return PyAVBackend(source, num_threads=num_threads)
    except ImportError:
        return None  # decord alone, then
    except VideoError:
        raise
    except Exception as exc:
        raise VideoError(path, f"not a readable video (pyav: {_short(exc)})") from None


def _check_decord_seeks(source: str | bytes, opened, num_threads: int, reference: PyAVBackend | None = None):
    """decord, unless its seeks would land on the wrong frames; then PyAV (`reference`, when
    the caller has scanned the source with it already).

    decord numbers keyframes by their position in *decode* order. In open-GOP
    streams (an I-frame followed by B-frames displayed before it) that is not
    their display position, and decord then returns frames a few places off
    (seen with mpeg4 B-frame files). PyAV's packet scan (milliseconds) knows the
    display positions; where the two disagree, PyAV reads the file.
    """
    if opened.name != "decord":
        return opened
    try:
        reference = reference if reference is not None else PyAVBackend(source, num_threads=num_threads)
    except VideoError:
        raise
    except Exception:  # PyAV missing or unable to scan: decord is all there is
        return opened
    ours, truth = opened.key_indices(), reference.key_indices()
    if ours == truth:
        return opened
    opened.close()
    reference.note = (f"read with PyAV: decord's keyframe positions {ours[:6]} differ from the "
                      f"stream's {truth[:6]} (open GOP), so its seeks would return wrong frames")
    return reference


def _short(exc: BaseException) -> str:
    """First line of a library error, without decord's C++ source-location prefix."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _DECORD_PREFIX.sub("", text)[:200]


class FramesReader(_Clip):
    """A clip already decoded, read like a file: `frames` is the whole clip (anything with len()
    and indexing that gives (H, W, 3) uint8 arrays; only the frames asked for are read), at
    `fps`. Given all of a file's frames and its fps, it returns what `VideoReader` returns."""

    backend = "frames"

    def __init__(self, frames: Sequence[np.ndarray], fps: float):
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.frames, self.fps, self.num_frames = frames, float(fps), len(frames)

    def get_frames(self, indices: list[int], max_pixels: int | None = None) -> np.ndarray:
        """(K, H, W, 3) frames at `indices` (each distinct one read once), shrunk under `max_pixels`."""
        picked = {i: self.frames[i] for i in sorted(set(indices))}
        return resize_frames(np.stack([picked[i] for i in indices]), max_pixels)


def uniform_clip(reader: "VideoReader | FramesReader", n: int, max_pixels: int | None = None) -> SampledClip:
    """The n uniformly sampled frames of an open video with their indices and its fps."""
    idx, frames = reader.sample_uniform(n, max_pixels)
    return SampledClip(frames, idx, reader.fps, reader.num_frames)


def read_uniform_clip(source: str | os.PathLike | bytes, n: int, max_pixels: int | None = None,
                      backend: str = "auto") -> SampledClip:
    """The n uniformly sampled frames of a video file (or its bytes) with their indices and its fps."""
    with VideoReader(source, backend=backend) as reader:
        return uniform_clip(reader, n, max_pixels)


def clip_from_frames(frames: Sequence[np.ndarray], fps: float, n: int,
                     max_pixels: int | None = None) -> SampledClip:
    """The same n uniform samples from frames already in memory (see `FramesReader`): what
    `read_uniform_clip` returns for the file they were decoded from."""
    return uniform_clip(FramesReader(frames, fps), n, max_pixels)
