"""Video probes: shuffled, reversed and frozen clips.

A video reward that cannot see time rewards a frozen clip (one frame repeated: no motion
artefacts, perfect per-frame quality) as well as a real one: the frozen-video hack. The
losing candidate's clip is rebuilt from the frames the model samples (`probe.media`: the
record already holds them, with their fps), reordered or frozen; nothing else changes.
Models with named dimensions (VQ, MQ, TA) are reported per dimension.
"""
from __future__ import annotations

import numpy as np

from mmreward.probe.context import replace_loser_media
from mmreward.probe.spec import Probe


def _video(name: str, reorder):
    """reorder(frames (T, H, W, 3), rng) -> frames of the perturbed clip."""
    def change(ctx, value, rec, rng):
        clip = ctx.store.video(value)
        return ctx.store.write_clip(reorder(clip["frames"], rng), clip["fps"])
    return replace_loser_media(name, "videos", change)


def shuffle(frames: np.ndarray, rng) -> np.ndarray:
    n = len(frames)
    order = rng.permutation(n)
    while n > 2 and np.array_equal(order, np.arange(n)):  # a shuffle must move something
        order = rng.permutation(n)
    return frames[order]


def reverse(frames: np.ndarray, rng) -> np.ndarray:
    return frames[::-1]


def freeze(frames: np.ndarray, rng) -> np.ndarray:
    """The middle frame for the whole clip."""
    return np.repeat(frames[len(frames) // 2][None], len(frames), axis=0)


PROBES = [
    Probe("video_shuffle", "video", "hack", "the losing clip's frames shuffled", _video("video_shuffle", shuffle),
          needs="video"),
    Probe("video_reverse", "video", "hack", "the losing clip played backwards", _video("video_reverse", reverse),
          needs="video"),
    Probe("video_frozen", "video", "hack", "the losing clip frozen on its middle frame (frozen-video hack)",
          _video("video_frozen", freeze), needs="video"),
]
