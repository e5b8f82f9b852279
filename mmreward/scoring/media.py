"""Turning media paths from user records into decoded images and frames.

All paths from data go through `resolve_media`, which keeps them inside the
media root: no absolute paths elsewhere, no `..` escapes, no symlinks that
lead out. The error message names the path as the user wrote it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mmreward.errors import MediaError
from vision.images import DEFAULT_MAX_IMAGE_PIXELS, ImageError, load_image

__all__ = ["MediaError", "MediaOptions", "open_image", "open_video_frames", "resolve_media"]


@dataclass(frozen=True)
class MediaOptions:
    media_root: str | Path | None = None
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    video_frames: int = 8  # frames sampled uniformly per video for the reward models
    video_max_frame_pixels: int | None = 128 * 28 * 28


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


def open_image(path: str, opts: MediaOptions):
    full = resolve_media(path, opts.media_root)
    if not full.is_file():
        raise MediaError(f"image '{path}' not found under media root")
    try:
        return load_image(full, opts.max_image_pixels)
    except ImageError as exc:
        raise MediaError(str(exc).replace(f"'{full.name}'", f"'{path}'", 1)) from None


def open_video_frames(path: str, opts: MediaOptions):
    """`opts.video_frames` uniformly sampled RGB frames (a `video.SampledClip`: frames [T, H, W, 3]
    uint8, their indices and the file's fps, which the processor needs to place them in time)."""
    from video.reader import VideoError, read_uniform_clip

    full = resolve_media(path, opts.media_root)
    if not full.is_file():
        raise MediaError(f"video '{path}' not found under media root")
    try:
        return read_uniform_clip(full, opts.video_frames, max_pixels=opts.video_max_frame_pixels)
    except VideoError as exc:
        raise MediaError(f"video '{path}': {exc}") from None
