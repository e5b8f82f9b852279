"""Turning the media of user records into decoded images and sampled video clips.

A record's image or video may be a path, a `data:` URI, encoded bytes or an object in
memory (docs/architecture.md, "Scoring records", lists every form). All of them end up
as what the model sees: an RGB PIL image (`vision.images`, the one image loader), or a
`video.SampledClip` of `video_frames` uniformly sampled frames with their timing.

All paths go through `resolve_media`, which keeps them inside the media root: no
absolute paths elsewhere, no `..` escapes, no symlinks that lead out. Messages name a
path as the user wrote it, and any other form by its position ("image 2: ...").
In-memory media never touch the disk.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from mmreward.errors import ConfigError, MediaError, MediaNotFoundError
from mmreward.scoring.datauri import decode_data_uri, is_data_uri
from video.errors import VideoError
from video.reader import FramesReader, SampledClip, VideoReader, uniform_clip
from vision.images import (DEFAULT_MAX_IMAGE_PIXELS, ImageError, image_from_array,
                           image_from_pil, image_from_tensor, is_tensor, load_image)

__all__ = ["MEDIA_CAPS", "MediaError", "MediaOptions", "VideoSource", "open_image", "open_video",
           "open_video_source", "resolve_media"]

_BYTES = (bytes, bytearray, memoryview)
IMAGE_FORMS = "a path, a data: URI, encoded bytes, a PIL image, a numpy array or a torch tensor"


#: the `mmreward.load` options that bound how a record's media are decoded (MediaOptions fields)
MEDIA_CAPS = ("max_image_pixels", "max_media_bytes", "max_video_frames", "default_fps")


@dataclass(frozen=True)
class MediaOptions:
    media_root: str | Path | None = None
    #: pixels per image and per video frame (a video's from its header), checked before decoding
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    video_frames: int = 8  # frames sampled uniformly per video for the reward models
    video_max_frame_pixels: int | None = 128 * 28 * 28
    #: encoded bytes per image or video given as bytes or a data URI (paths are not capped)
    max_media_bytes: int | None = 100_000_000
    #: frames per video given as frames (an array, a tensor or a list of images)
    max_video_frames: int | None = 2048
    #: the fps of a video given as frames when neither it nor its record says (transformers'
    #: Qwen-VL processors assume the same for bare frames)
    default_fps: float = 24.0
    #: a record's images, each resized by this right after it is decoded (the model's own resize,
    #: `mmreward.scoring.fit`); None keeps them at full size
    image_fit: Callable | None = None

    @classmethod
    def with_caps(cls, options, **fields) -> MediaOptions:
        """MediaOptions with the caps (`MEDIA_CAPS`) a model's load options set (a mapping or an
        options dataclass; unset: the defaults), and `fields`."""
        get = options.get if isinstance(options, dict) else lambda name: getattr(options, name, None)
        return cls(**{k: get(k) for k in MEDIA_CAPS if get(k) is not None}, **fields)

    def __post_init__(self):
        for name in ("max_image_pixels", "max_media_bytes", "max_video_frames", "video_max_frame_pixels"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")
        if self.video_frames < 1:
            raise ConfigError(f"video_frames must be at least 1, got {self.video_frames!r}")
        check_fps(self.default_fps, "default_fps", None)


def resolve_media(path: str, media_root: str | Path | None) -> Path:
    """Resolve `path` against `media_root` (default: cwd), refusing anything that leaves the root."""
    if not isinstance(path, str) or not path:
        raise MediaError(f"media path must be a non-empty string, got {path!r}")
    if "\x00" in path:
        raise MediaError(f"media path {path!r} contains a NUL byte")
    root = Path(media_root if media_root is not None else os.getcwd()).resolve()
    candidate = Path(path)
    if media_root is not None and ".." in candidate.parts:
        raise MediaError(f"'{path}' contains '..' and may not leave the media root")
    full = (root / candidate).resolve()  # resolve() follows symlinks, so a link out is caught below
    if media_root is not None and not full.is_relative_to(root):
        raise MediaError(f"'{path}' resolves outside the media root")
    return full


# ------------------------------------------------------------------------------ images

def open_image(value, opts: MediaOptions, index: int = 0, noun: str = "image", *, raw: bool = False):
    """Any accepted image form -> an RGB PIL image; `index` names a non-path image in messages.

    `raw=True`: a file, bytes, data URI or PIL image keeps its own pixels (mode, orientation), as
    `vision.images.load_image(raw=True)` does, for callers that reproduce another pipeline's own
    conversion (mmreward.presets); arrays and tensors become RGB either way."""
    subject = f"{noun} {index}"
    try:
        if isinstance(value, os.PathLike) or (isinstance(value, str) and not is_data_uri(value)):
            return _image_file(os.fspath(value), opts, noun, raw)
        if isinstance(value, str):
            return load_image(decode_data_uri(value, "image", subject, opts.max_media_bytes),
                              opts.max_image_pixels, subject, raw=raw)
        if isinstance(value, _BYTES):
            return load_image(_capped(value, subject, opts), opts.max_image_pixels, subject, raw=raw)
        if isinstance(value, Image.Image):
            return image_from_pil(value, opts.max_image_pixels, subject, raw=raw)
        if isinstance(value, np.ndarray):
            return image_from_array(value, opts.max_image_pixels, subject)
        if is_tensor(value):
            return image_from_tensor(value, opts.max_image_pixels, subject)
    except ImageError as exc:
        raise MediaError(str(exc)) from None
    raise MediaError(f"{subject}: a {type(value).__name__} is not an image; give {IMAGE_FORMS}")


def _image_file(path: str, opts: MediaOptions, noun: str, raw: bool = False):
    full = resolve_media(path, opts.media_root)
    if not full.is_file():
        raise MediaNotFoundError(f"{noun} '{path}' not found under media root")
    try:
        return load_image(full, opts.max_image_pixels, f"{noun} '{path}'", raw=raw)
    except ImageError as exc:
        raise MediaError(str(exc)) from None


def _capped(data, subject: str, opts: MediaOptions) -> bytes:
    if opts.max_media_bytes and len(data) > opts.max_media_bytes:
        raise MediaError(f"{subject} is {len(data) / 1e6:.1f} MB of encoded data, over the cap of "
                         f"{opts.max_media_bytes / 1e6:.1f} MB")
    return bytes(data)


# ------------------------------------------------------------------------------ videos

def open_video(value, opts: MediaOptions, index: int = 0, fps=None) -> SampledClip:
    """Any accepted video form -> a `video.SampledClip` of `opts.video_frames` uniform samples
    (frames [T, H, W, 3] uint8, their indices and the clip's fps, which the processor needs
    to place them in time).

    A file, bytes or data URI is decoded in memory (only the sampled frames); frames given
    in memory are the whole clip at `fps` (the video's own, else the record's `fps`, else
    `opts.default_fps`) and are sampled the same way, so all forms of one video agree.
    """
    with open_video_source(value, opts, index, fps) as source:
        return source.uniform_clip(opts.video_frames, opts.video_max_frame_pixels)


class VideoSource:
    """A video in any accepted form, opened but not decoded: its frame count and fps, and the
    frames asked for. Errors are MediaErrors naming the video (its path, or "video N")."""

    def __init__(self, reader: VideoReader | FramesReader, name: str, path_given: bool):
        self.reader, self.name, self._path_given = reader, name, path_given

    @property
    def num_frames(self) -> int:
        return self.reader.num_frames

    @property
    def fps(self) -> float:
        return self.reader.fps

    def frames(self, indices: list[int], max_pixels: int | None = None) -> np.ndarray:
        """(K, H, W, 3) uint8 frames at 0-based `indices` (only those are decoded)."""
        try:
            return self.reader.get_frames(indices, max_pixels)
        except VideoError as exc:
            raise _video_error(exc, self.name, self._path_given) from None

    def uniform_clip(self, n: int, max_pixels: int | None = None) -> SampledClip:
        try:
            return uniform_clip(self.reader, n, max_pixels)
        except VideoError as exc:
            raise _video_error(exc, self.name, self._path_given) from None

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _video_error(exc: VideoError, name: str, path_given: bool) -> MediaError:
    # a path's message keeps the resolved file; bytes are named by their position
    return MediaError(f"{name}: {exc}" if path_given else f"{name}: {exc.cause}")


def open_video_source(value, opts: MediaOptions, index: int = 0, fps=None,
                      backend: str = "auto") -> VideoSource:
    """Any accepted video form, opened (`VideoSource`): a file under the media root, bytes or a
    data URI (their header read and checked against `opts.max_image_pixels` per frame, nothing
    decoded yet), or frames in memory at `fps` (see `open_video`). `backend`: the decoder of
    files and bytes (`video.VideoReader`)."""
    subject = f"video {index}"
    if isinstance(value, os.PathLike) or (isinstance(value, str) and not is_data_uri(value)):
        path = os.fspath(value)
        full = resolve_media(path, opts.media_root)
        if not full.is_file():
            raise MediaNotFoundError(f"video '{path}' not found under media root")
        return _encoded(full, f"video '{path}'", True, opts, backend)
    if isinstance(value, str):
        value = decode_data_uri(value, "video", subject, opts.max_media_bytes)
    if isinstance(value, _BYTES):
        return _encoded(_capped(value, subject, opts), subject, False, opts, backend)
    if isinstance(value, Mapping):
        if set(value) - {"frames", "fps"} or "frames" not in value:
            raise MediaError(f"{subject}: a video given as a dict needs 'frames' and may have 'fps' "
                             f"(nothing else), got keys {sorted(map(str, value))}")
        fps = value.get("fps", fps)
        value = value["frames"]
        if not isinstance(value, (list, tuple, np.ndarray)) and not is_tensor(value):
            raise MediaError(f"{subject}: 'frames' must be a THWC array, a TCHW tensor or a list "
                             f"of images, got a {type(value).__name__}")
    if isinstance(value, (list, tuple, np.ndarray)) or is_tensor(value):
        reader = FramesReader(_Frames(value, opts, subject), check_fps(fps, subject, opts.default_fps))
        return VideoSource(reader, subject, False)
    raise MediaError(f"{subject}: a {type(value).__name__} is not a video; give a path, a data: URI, "
                     "encoded bytes, or frames (a THWC array, a TCHW tensor or a list of images)")


def _encoded(source: Path | bytes, name: str, path_given: bool, opts: MediaOptions, backend: str) -> VideoSource:
    try:
        reader = VideoReader(source, backend=backend, max_frame_pixels=opts.max_image_pixels)
    except VideoError as exc:
        raise _video_error(exc, name, path_given) from None
    return VideoSource(reader, name, path_given)


def check_fps(fps, subject: str, default: float | None) -> float | None:
    """`fps` as a float (`default` when None); anything but a positive finite number is an error."""
    if fps is None:
        return default
    if isinstance(fps, bool) or not isinstance(fps, Real) or not math.isfinite(fps) or fps <= 0:
        raise MediaError(f"{subject}: fps must be a positive number, got {fps!r}")
    return float(fps)


class _Frames:
    """A video's frames given in memory, converted (like images) only when sampled; every
    frame read must have the size of the first one read."""

    def __init__(self, frames, opts: MediaOptions, subject: str):
        if is_tensor(frames) or isinstance(frames, np.ndarray):
            layout, axis = ("TCHW tensor", 1) if is_tensor(frames) else ("THWC array", -1)
            if frames.ndim != 4 or frames.shape[axis] not in (1, 3, 4):
                raise MediaError(f"{subject}: frames of shape {tuple(frames.shape)} are not a "
                                 f"{layout} with 1, 3 or 4 channels")
        if len(frames) == 0:
            raise MediaError(f"{subject} has no frames")
        if opts.max_video_frames and len(frames) > opts.max_video_frames:
            raise MediaError(f"{subject} has {len(frames)} frames, over the cap of {opts.max_video_frames}")
        self.frames, self.opts, self.subject = frames, opts, subject
        self.first: tuple[int, tuple] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> np.ndarray:
        frame = np.asarray(open_image(self.frames[i], self.opts, i, noun=f"{self.subject}: frame"))
        if self.first is None:
            self.first = (i, frame.shape)
        elif frame.shape != self.first[1]:
            j, (h, w, _) = self.first
            raise MediaError(f"{self.subject}: frame {i} is {frame.shape[1]}x{frame.shape[0]} but frame "
                             f"{j} is {w}x{h}; all frames of a video must have one size")
        return frame
