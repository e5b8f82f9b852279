"""Original media in, perturbed media out, for the probes, all in memory.

Probes work on PIL images and frame arrays, and the records they build hand those to the model
as in-memory media (docs/architecture.md, "Scoring records": PIL images, encoded bytes, frames
with an fps). The originals are decoded once, through the scorer's own loaders
(`mmreward.scoring.media`: a path is resolved and confined under the media root, any other form
decoded as the scorer would), and go into the probed records decoded too: a probed record holds
no path, so it is scored without a media root, by a local model or a remote service alike, and
"before" and "after" differ only by the perturbation. A video becomes the `video_frames` frames
the model samples, with the fps that spreads them over the clip's duration, so the model sees
the same frames, at the same times, as from the file.
"""
from __future__ import annotations

import io
import math
from dataclasses import replace

import numpy as np
from PIL import Image

from mmreward.errors import MediaError
from mmreward.scoring.media import MediaOptions, open_image, open_video

MEDIA_KEYS = ("images", "videos")


def _cache_key(value):
    return value if isinstance(value, str) else id(value)


class MediaStore:
    def __init__(self, media_root=None, video_frames: int = 8, options: MediaOptions | None = None):
        self.opts = replace(options or MediaOptions(), media_root=media_root, video_frames=video_frames)
        self._images: dict = {}
        self._videos: dict = {}
        self._keep: list = []  # the values cached by identity stay alive, so their ids stay theirs
        self._made: set[int] = set()  # ids of the clips this store built

    # -- originals ------------------------------------------------------------------------
    def image(self, value, index: int = 0) -> Image.Image:
        """The decoded RGB image of any accepted image form, cached: a record's image is
        perturbed many ways. An image this store made is returned as it is."""
        if isinstance(value, Image.Image) and value.mode == "RGB":
            return value
        key = _cache_key(value)
        if key not in self._images:
            self._images[key] = open_image(value, self.opts, index)
            self._keep.append(value)
        return self._images[key]

    def video(self, value, index: int = 0, fps=None) -> dict:
        """{"frames": (T, H, W, 3) uint8, "fps"}: the `video_frames` frames the model samples from
        any accepted video form, at the fps that plays them over the clip's duration (cached)."""
        if id(value) in self._made:
            return value
        key = _cache_key(value)
        if key not in self._videos:
            clip = open_video(value, self.opts, index, fps)
            self._videos[key] = self.write_clip(clip.frames, clip_fps(clip))
            self._keep.append(value)
        return self._videos[key]

    def materialise(self, record: dict) -> dict:
        """A copy of `record` with every image and video decoded (raises MediaError naming the
        culprit, as the scorer would)."""
        fps = record.get("fps")

        def decode(holder: dict, where: str) -> dict:
            out = dict(holder)
            try:
                if holder.get("images") is not None and len(holder["images"]):
                    out["images"] = [self.image(v, k) for k, v in enumerate(holder["images"])]
                if holder.get("videos") is not None and len(holder["videos"]):
                    out["videos"] = [self.video(v, k, fps) for k, v in enumerate(holder["videos"])]
            except MediaError as exc:
                raise MediaError(f"{where}: {exc}") from None
            return out

        out = decode(record, "record")
        out["candidates"] = [decode(c, f"candidate {i}") for i, c in enumerate(record["candidates"])]
        return out

    # -- perturbed media ------------------------------------------------------------------
    @staticmethod
    def write_image(image: Image.Image, jpeg_quality: int | None = None):
        """The image as a record holds it: the PIL image, or its JPEG encoding (which the model
        then decodes, so the re-encoding is what it sees)."""
        if jpeg_quality is None:
            return image.convert("RGB")
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=jpeg_quality)
        return buf.getvalue()

    def write_clip(self, frames: np.ndarray, fps: float) -> dict:
        clip = {"frames": np.ascontiguousarray(frames), "fps": float(fps)}
        self._made.add(id(clip))
        self._keep.append(clip)
        return clip


def clip_fps(clip) -> float:
    """The fps that plays the sampled frames over the original clip's duration."""
    duration = clip.total_frames / clip.fps if clip.fps else 0.0
    n = len(clip.frames)
    return n / duration if duration > 0 and math.isfinite(duration) else float(clip.fps or 8.0)
