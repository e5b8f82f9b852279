"""Original media in, perturbed media out, for the probes.

Probes work on PIL images and frame arrays. The records they build must still be
scoring records, so a perturbed image or clip has to become something a record can hold.
Records hold media as paths for now: perturbed media are written as files under
`OUT/media/`, and every media path of a probed record (original or perturbed) is made
absolute, so one record can mix both and be scored without a media root. Original paths
are resolved against the user's media root first, with the scorer's confinement check
(`mmreward.scoring.media.resolve_media`): nothing outside the root is read.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from mmreward.errors import MediaError
from mmreward.scoring.media import MediaOptions, open_image, open_video_frames, resolve_media

MEDIA_KEYS = ("images", "videos")


class MediaStore:
    def __init__(self, media_root, out_dir, video_frames: int = 8, options: MediaOptions | None = None):
        self.opts = replace(options or MediaOptions(), media_root=media_root, video_frames=video_frames)
        self.dir = Path(out_dir) / "media"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._count = itertools.count()
        self._images: dict[str, Image.Image] = {}
        self._clips: dict[str, object] = {}
        self._made: dict[tuple, str] = {}

    # -- originals ------------------------------------------------------------------------
    def resolve(self, path: str, kind: str = "image") -> str:
        """The absolute path of an original media file (confined to the media root)."""
        if not isinstance(path, str):
            raise MediaError(f"media must be given as paths, got {type(path).__name__}")
        full = resolve_media(path, self.opts.media_root)
        if not full.is_file():
            raise MediaError(f"{kind} '{path}' not found under media root")
        return str(full)

    def image(self, path: str) -> Image.Image:
        """The decoded original image (RGB), cached: a record's image is perturbed many ways."""
        if path not in self._images:
            self._images[path] = open_image(path, self.opts)
        return self._images[path]

    def clip(self, path: str):
        """`video_frames` frames sampled uniformly (a `video.SampledClip`), cached."""
        if path not in self._clips:
            self._clips[path] = open_video_frames(path, self.opts)
        return self._clips[path]

    def materialise(self, record: dict) -> dict:
        """A copy of `record` whose media paths are absolute (raises MediaError for a bad one)."""
        out = dict(record)
        for key in MEDIA_KEYS:
            if record.get(key):
                out[key] = [self.resolve(p, key[:-1]) for p in record[key]]
        cands = []
        for i, cand in enumerate(record["candidates"]):
            cand = dict(cand)
            for key in MEDIA_KEYS:
                if cand.get(key):
                    try:
                        cand[key] = [self.resolve(p, key[:-1]) for p in cand[key]]
                    except MediaError as exc:
                        raise MediaError(f"candidate {i}: {exc}") from None
            cands.append(cand)
        out["candidates"] = cands
        return out

    # -- perturbed media ------------------------------------------------------------------
    def once(self, key: tuple, make) -> str:
        """`make()` the first time `key` is asked for, the same path after that."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def _path(self, tag: str, suffix: str) -> Path:
        return self.dir / f"{next(self._count):06d}-{tag}{suffix}"

    def write_image(self, image: Image.Image, tag: str, jpeg_quality: int | None = None) -> str:
        if jpeg_quality is None:
            path = self._path(tag, ".png")
            image.convert("RGB").save(path, format="PNG", compress_level=1)  # lossless; speed over size
        else:
            path = self._path(tag, ".jpg")
            image.convert("RGB").save(path, format="JPEG", quality=jpeg_quality)
        return str(path)

    def write_clip(self, frames: np.ndarray, fps: float, tag: str) -> str:
        """Frames (T, H, W, 3) uint8 as an mp4 (cropped to even sides for yuv420p)."""
        from video.writer import write_mp4

        frames = np.asarray(frames)
        h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
        path = self._path(tag, ".mp4")
        write_mp4(path, np.ascontiguousarray(frames[:, :h, :w]), fps=fps)
        return str(path)


def clip_fps(clip) -> float:
    """The fps that plays the sampled frames over the original clip's duration."""
    duration = clip.total_frames / clip.fps if clip.fps else 0.0
    n = len(clip.frames)
    return n / duration if duration > 0 and math.isfinite(duration) else float(clip.fps or 8.0)
