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

import numpy as np
from PIL import Image

from mmreward.errors import ConfigError, MediaError, MediaNotFoundError
from mmreward.scoring.datauri import decode_data_uri, is_data_uri
from video.errors import VideoError
from video.reader import clip_from_frames, read_uniform_clip
from vision.images import (DEFAULT_MAX_IMAGE_PIXELS, ImageError, image_from_array,
                           image_from_pil, image_from_tensor, is_tensor, load_image)

__all__ = ["MediaError", "MediaOptions", "open_image", "open_video", "resolve_media"]

_BYTES = (bytes, bytearray, memoryview)
IMAGE_FORMS = "a path, a data: URI, encoded bytes, a PIL image, a numpy array or a torch tensor"


@dataclass(frozen=True)
class MediaOptions:
    media_root: str | Path | None = None
    #: pixels per image (and per video frame given in memory), checked before decoding
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

def open_image(value, opts: MediaOptions, index: int = 0, noun: str = "image"):
    """Any accepted image form -> an RGB PIL image; `index` names a non-path image in messages."""
    subject = f"{noun} {index}"
    try:
        if isinstance(value, os.PathLike) or (isinstance(value, str) and not is_data_uri(value)):
            return _image_file(os.fspath(value), opts, noun)
        if isinstance(value, str):
            return load_image(decode_data_uri(value, "image", subject, opts.max_media_bytes),
                              opts.max_image_pixels, subject)
        if isinstance(value, _BYTES):
            return load_image(_capped(value, subject, opts), opts.max_image_pixels, subject)
        if isinstance(value, Image.Image):
            return image_from_pil(value, opts.max_image_pixels, subject)
        if isinstance(value, np.ndarray):
            return image_from_array(value, opts.max_image_pixels, subject)
        if is_tensor(value):
            return image_from_tensor(value, opts.max_image_pixels, subject)
    except ImageError as exc:
        raise MediaError(str(exc)) from None
    raise MediaError(f"{subject}: a {type(value).__name__} is not an image; give {IMAGE_FORMS}")


def _image_file(path: str, opts: MediaOptions, noun: str):
    full = resolve_media(path, opts.media_root)
    if not full.is_file():
        raise MediaNotFoundError(f"{noun} '{path}' not found under media root")
    try:
        return load_image(full, opts.max_image_pixels, f"{noun} '{path}'")
    except ImageError as exc:
        raise MediaError(str(exc)) from None


def _capped(data, subject: str, opts: MediaOptions) -> bytes:
    if opts.max_media_bytes and len(data) > opts.max_media_bytes:
        raise MediaError(f"{subject} is {len(data) / 1e6:.1f} MB of encoded data, over the cap of "
                         f"{opts.max_media_bytes / 1e6:.1f} MB")
    return bytes(data)


# ------------------------------------------------------------------------------ videos

def open_video(value, opts: MediaOptions, index: int = 0, fps=None):
    """Any accepted video form -> a `video.SampledClip` of `opts.video_frames` uniform samples
    (frames [T, H, W, 3] uint8, their indices and the clip's fps, which the processor needs
    to place them in time).

    A file, bytes or data URI is decoded in memory (only the sampled frames); frames given
    in memory are the whole clip at `fps` (the video's own, else the record's `fps`, else
    `opts.default_fps`) and are sampled the same way, so all forms of one video agree.
    """
    subject = f"video {index}"
    if isinstance(value, os.PathLike) or (isinstance(value, str) and not is_data_uri(value)):
        return _video_file(os.fspath(value), opts)
    if isinstance(value, str):
        value = decode_data_uri(value, "video", subject, opts.max_media_bytes)
    if isinstance(value, _BYTES):
        data = _capped(value, subject, opts)
        try:
            return read_uniform_clip(data, opts.video_frames, max_pixels=opts.video_max_frame_pixels)
        except VideoError as exc:
            raise MediaError(f"{subject}: {exc.cause}") from None
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
        return _video_from_frames(value, opts, subject, check_fps(fps, subject, opts.default_fps))
    raise MediaError(f"{subject}: a {type(value).__name__} is not a video; give a path, a data: URI, "
                     "encoded bytes, or frames (a THWC array, a TCHW tensor or a list of images)")


def _video_file(path: str, opts: MediaOptions):
    """A video file under the media root -> its `video.SampledClip`."""
    full = resolve_media(path, opts.media_root)
    if not full.is_file():
        raise MediaNotFoundError(f"video '{path}' not found under media root")
    try:
        return read_uniform_clip(full, opts.video_frames, max_pixels=opts.video_max_frame_pixels)
    except VideoError as exc:
        raise MediaError(f"video '{path}': {exc}") from None


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


def _video_from_frames(frames, opts: MediaOptions, subject: str, fps: float):
    return clip_from_frames(_Frames(frames, opts, subject), fps, opts.video_frames,
                            opts.video_max_frame_pixels)
