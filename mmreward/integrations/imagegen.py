"""A reward for RL on image and video generators (Flow-GRPO / DanceGRPO style).

    reward = GenerationReward("tiny")                      # or a service URL
    scores, info = reward(images, prompts, metadata)       # images: what the sampler produced

The call follows Flow-GRPO's reward functions (`flow_grpo/rewards.py`: `_fn(images, prompts,
metadata) -> (scores, info)`). `images` may be an NCHW float tensor in [0, 1] (or uint8), an
NHWC uint8 (or [0, 1] float) array, or a list of PIL images; videos an NTCHW tensor, an
NTHWC array, or a list of per-video frames, at `fps` (the metadata's "fps", else the
argument, else the media default). `prompts` has one text per sample, or one per group.

With `group_size=None` each sample is judged on its own (one candidate per record). With
`group_size=K` the samples come in consecutive groups of K for one prompt (GRPO's
group): each group is one record with K candidates, so a generative model judges a pair
against each other (both orders), and `info["preferred"]` gives each group's best sample.
`scores` is a list of floats, one per sample, in the order given.
"""
from __future__ import annotations

import numpy as np

from mmreward.errors import ConfigError
from mmreward.integrations.common import check_on_error, error_value, reward_model, reward_values


def is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch")


def samples(media) -> tuple[list, str]:
    """Split a batch into one item per sample, and say whether the items are images or videos."""
    if is_tensor(media) or isinstance(media, np.ndarray):
        if media.ndim not in (4, 5):
            raise ConfigError(f"a batch of images is 4-D (NCHW / NHWC) and of videos 5-D (NTCHW / NTHWC); "
                              f"got shape {tuple(media.shape)}")
        if is_tensor(media):
            media = media.detach().cpu()
        return list(media), "videos" if media.ndim == 5 else "images"
    media = list(media)
    if not media:
        return [], "images"
    first = media[0]
    is_video = isinstance(first, (list, tuple)) or getattr(first, "ndim", 3) == 4
    return media, "videos" if is_video else "images"


class GenerationReward:
    """`GenerationReward(model, group_size=None, fps=None, criteria=None, ...)(images, prompts, metadata)`."""

    def __init__(self, model="tiny", *, mode: str | None = None, group_size: int | None = None,
                 fps: float | None = None, criteria: str | None = None, media_root=None, batch_size: int = 8,
                 on_error="raise", **load_kwargs):
        check_on_error(on_error)
        if group_size is not None and group_size < 1:
            raise ConfigError(f"group_size must be at least 1, got {group_size}")
        self.model = reward_model(model, mode, **load_kwargs)
        self.group_size, self.fps, self.criteria = group_size, fps, criteria
        self.media_root, self.batch_size, self.on_error = media_root, batch_size, on_error

    def records(self, media, prompts, metadata=None) -> list[dict]:
        items, kind = samples(media)
        k = self.group_size or 1
        if len(items) % k:
            raise ConfigError(f"{len(items)} samples do not split into groups of {k}")
        groups = len(items) // k
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if len(prompts) == len(items) and k > 1:
            prompts = prompts[::k]  # one prompt per sample, repeated within each group
        if len(prompts) != groups:
            raise ConfigError(f"{len(prompts)} prompts for {len(items)} samples in groups of {k}")
        metadata = list(metadata) if metadata is not None else [{}] * len(items)
        records = []
        for g in range(groups):
            meta = metadata[g * k] if len(metadata) == len(items) else metadata[g] if metadata else {}
            record = {"id": g, "prompt": prompts[g],
                      "candidates": [{kind: [items[g * k + j]]} for j in range(k)]}
            fps = (meta or {}).get("fps", self.fps)
            if fps is not None:
                record["fps"] = fps
            if self.criteria is not None:
                record["criteria"] = self.criteria
            records.append(record)
        return records

    def __call__(self, images, prompts, metadata=None):
        records = self.records(images, prompts, metadata)
        outputs = self.model.score(records, self.media_root, self.batch_size)
        per_group = reward_values(outputs, self.on_error, index=None)
        k = self.group_size or 1
        scores = [r for rewards in per_group for r in (rewards or [error_value(self.on_error)] * k)]
        info = {"preferred": [o.get("preferred") for o in outputs],
                "errors": [o.get("error") for o in outputs]}
        dims = [o.get("dimensions") for o in outputs]
        if any(dims):
            info["dimensions"] = {name: [v for d in dims for v in (d or {}).get(name, [float("nan")] * k)]
                                  for name in next(d for d in dims if d)}
        return scores, info
