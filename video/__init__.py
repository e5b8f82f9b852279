"""Video reading for mmreward: frame access, uniform sampling, resizing, the
agent's visual memory window, and an mp4 writer.

Imports libraries only (decord, PyAV, numpy, PIL) — never mmreward, eval or vision.
"""
from .errors import VideoError
from .memory import apply_memory_window, is_tool_result
from .reader import (FramesReader, SampledClip, VideoInfo, VideoReader, clip_from_frames, read_uniform_clip,
                     uniform_clip)
from .resize import fit_size, resize_frames, resize_image
from .sampling import candidate_to_frame, uniform_indices
from .writer import write_mp4


def probe(path, backend: str = "auto") -> VideoInfo:
    """Frame count, fps and duration without decoding any frame."""
    with VideoReader(path, backend=backend) as reader:
        return reader.info()


def read_frames(path, indices, max_pixels=None, backend: str = "auto"):
    """(K, H, W, 3) uint8 frames at 0-based `indices`; decodes only those."""
    with VideoReader(path, backend=backend) as reader:
        return reader.get_frames(indices, max_pixels)


__all__ = [
    "VideoError", "VideoInfo", "VideoReader", "SampledClip", "probe", "read_frames", "read_uniform_clip",
    "clip_from_frames", "FramesReader", "uniform_clip",
    "uniform_indices", "candidate_to_frame", "fit_size", "resize_frames", "resize_image",
    "apply_memory_window", "is_tool_result", "write_mp4",
]
