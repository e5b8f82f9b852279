"""A reward for RL on image and video generators (Flow-GRPO / DanceGRPO style).

    reward = GenerationReward("tiny")                      # or a service URL
    scores, info = reward(images, prompts, metadata)       # images: what the sampler produced

The call follows Flow-GRPO's reward functions (`flow_grpo/rewards.py`: `_fn(images, prompts,
metadata) -> (scores, info)`). `images` may be an NCHW float tensor in [0, 1] (or uint8), an
NHWC uint8 (or [0, 1] float) array, or a list of PIL images; videos an NTCHW tensor, an
NTHWC array, or a list of per-video frames, at `fps` (the metadata's "fps", else the
argument, else the media default). `prompts` and `metadata` have one entry per sample (with
`group_size=K`, one per K consecutive samples is also taken).

With `group_size=None` each sample is judged on its own (one candidate per record). With
`group_size=K` the samples of one prompt are judged together, as one record with up to K
candidates (GRPO's group), so a generative model judges a pair against each other (both
orders). Samples belong together by content, never by position: same prompt text and same
metadata. Samplers put a prompt's copies anywhere (flow_grpo's `DistributedKRepeatSampler`
shuffles the K copies of each prompt across the whole step and cuts per-GPU batches of any
size out of it), so a batch may hold 1 to K copies of a prompt, in any order: each prompt's
copies form one group (more than K copies: groups of K in order of position). `info["groups"]`
lists each group's sample positions, `info["preferred"]` each group's preferred candidate (an
index into its group's positions; None for a tie), `info["errors"]` each group's error.
`scores` is a list of floats, one per sample, in the order given.
"""
from __future__ import annotations

import json

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

    def per_sample(self, n: int, prompts, metadata) -> tuple[list[str], list[dict]]:
        """One prompt and one metadata dict per sample (one prompt per K samples is taken as K copies)."""
        k = self.group_size or 1
        prompts = [prompts] * n if isinstance(prompts, str) else list(prompts)
        if len(prompts) * k == n and k > 1:
            prompts = [p for p in prompts for _ in range(k)]
        if len(prompts) != n:
            raise ConfigError(f"{len(prompts)} prompts for {n} samples (give one per sample)")
        metadata = [{}] * n if metadata is None else [m or {} for m in metadata]
        if len(metadata) * k == n and k > 1:
            metadata = [m for m in metadata for _ in range(k)]
        if len(metadata) != n:
            raise ConfigError(f"{len(metadata)} metadata entries for {n} samples (give one per sample)")
        return prompts, metadata

    def groups(self, prompts: list[str], metadata: list[dict]) -> list[list[int]]:
        """Sample positions of each group: same prompt and metadata, at most `group_size`, in
        order of first appearance."""
        if not self.group_size:
            return [[i] for i in range(len(prompts))]
        by_content: dict[str, list[int]] = {}
        for i, (prompt, meta) in enumerate(zip(prompts, metadata)):
            by_content.setdefault(json.dumps([prompt, meta], sort_keys=True, default=repr), []).append(i)
        return sorted((positions[j:j + self.group_size] for positions in by_content.values()
                       for j in range(0, len(positions), self.group_size)), key=lambda g: g[0])

    def records(self, media, prompts, metadata=None) -> tuple[list[dict], list[list[int]]]:
        """(one record per group, each group's sample positions)."""
        items, kind = samples(media)
        prompts, metadata = self.per_sample(len(items), prompts, metadata)
        groups = self.groups(prompts, metadata)
        records = []
        for g, positions in enumerate(groups):
            first = positions[0]
            record = {"id": g, "prompt": prompts[first], "candidates": [{kind: [items[i]]} for i in positions]}
            fps = metadata[first].get("fps", self.fps)
            if fps is not None:
                record["fps"] = fps
            if self.criteria is not None:
                record["criteria"] = self.criteria
            records.append(record)
        return records, groups

    def __call__(self, images, prompts, metadata=None):
        records, groups = self.records(images, prompts, metadata)
        outputs = self.model.score(records, self.media_root, self.batch_size)
        per_group = reward_values(outputs, self.on_error, index=None)
        scores: list = [None] * sum(len(g) for g in groups)
        for positions, rewards in zip(groups, per_group):
            for j, i in enumerate(positions):
                scores[i] = rewards[j] if rewards is not None else error_value(self.on_error)
        info = {"groups": groups, "preferred": [o.get("preferred") for o in outputs],
                "errors": [o.get("error") for o in outputs]}
        dims = [o.get("dimensions") for o in outputs]
        if any(dims):
            names = next(d for d in dims if d)
            info["dimensions"] = {name: [float("nan")] * len(scores) for name in names}
            for positions, d in zip(groups, dims):
                for name, values in (d or {}).items():
                    if name in info["dimensions"]:
                        for j, i in enumerate(positions):
                            info["dimensions"][name][i] = values[j]
        return scores, info
