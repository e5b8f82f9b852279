"""`mmreward.load`: one call from a name or directory to a model that scores records."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from mmreward.models.backbone import BackboneOptions, load_backbone
from mmreward.models.config import RewardConfig
from mmreward.models.generative import YesTokenRewardModel, answer_token_ids
from mmreward.models.scalar import ScalarRewardModel
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.batching import TokenBudget
from mmreward.scoring.engine import Scorer
from mmreward.scoring.media import MediaOptions

# The tiny preset runs on CPU: keep its visual token counts small by default.
TINY_PIXELS = dict(min_pixels=28 * 28, max_pixels=256 * 28 * 28,
                   video_min_pixels=4 * 28 * 28, video_max_pixels=64 * 28 * 28)


class RewardModel(BaseRewardModel):
    """A Qwen-VL reward model (scalar head or yes-token): `.score(records)` returns the output dicts."""

    #: records per `score_chunk` call, in batches: the prompts of a chunk are sorted by length
    #: before they are packed into batches, so a larger chunk pads less (and holds more media)
    CHUNK_BATCHES = 4

    def __init__(self, module, processor, config: RewardConfig, path: str,
                 media: MediaOptions | None = None, budget: TokenBudget | None = None):
        self.module, self.processor, self.config, self.path = module, processor, config, path
        self.media = media or MediaOptions(video_frames=config.video_frames)
        self.scorer = Scorer(module, processor, config, budget)
        self.name = str(path)

    @property
    def budget(self) -> TokenBudget:
        """Token limits of the forward passes (`mmreward.scoring.batching.TokenBudget`); settable."""
        return self.scorer.budget

    @budget.setter
    def budget(self, value: TokenBudget) -> None:
        self.scorer.budget = value

    def chunk_size(self, batch_size: int) -> int:
        return max(1, batch_size) * self.CHUNK_BATCHES

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def kind(self) -> str:
        return self.config.mode

    @property
    def untrained_head(self) -> bool:
        """True when scalar scores come from a freshly initialised head (a plain VLM checkpoint)."""
        return self.config.mode == "scalar" and bool(getattr(self.module, "untrained_head", False))

    @property
    def info(self) -> dict:
        info = {**super().info, "dimensions": list(self.config.dimensions), "video_frames": self.media.video_frames}
        if self.untrained_head:
            info["untrained_head"] = True
        if self.config.calibrated:
            info["calibrated"] = self.config.calibrated
        return info

    def media_options(self, media_root=None) -> MediaOptions:
        return replace(self.media, media_root=media_root)

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        outs = self.scorer.score_chunk(records, self.media_options(media_root), batch_size)
        if self.untrained_head:  # every result says so: nobody may take these for a reward model's
            for out in outs:
                if "error" not in out:
                    out["untrained_head"] = True
        return outs

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.module.save_pretrained(directory, self.processor)


def build_module(backbone, processor, config: RewardConfig, path: str | None = None):
    if config.mode == "scalar":
        module = ScalarRewardModel(backbone, config)
        module.untrained_head = not (path is not None and module.load_head(path))
        return module
    return YesTokenRewardModel(backbone, *answer_token_ids(processor.tokenizer), config=config)


def load(name_or_path: str | os.PathLike = "tiny", mode: str | None = None, *, preset: str | None = None,
         **kwargs) -> BaseRewardModel:
    """Load a reward model by name, directory or hub id (docs/architecture.md, "Loading").

    `mmreward.registry` decides who loads it: a named preset (`preset="..."`), a combination
    (`combo:...`), a named reward (`pickscore`, `ocr`, ...), a released model's directory
    layout, else a Qwen-VL reward model (`load_qwen_vl`).
    """
    from mmreward.names import check_model_name
    from mmreward.registry import find_loader

    check_model_name(name_or_path)  # a name that can be no model here: one line, before anything loads
    loader = find_loader(name_or_path, preset)
    if loader is None:
        return load_qwen_vl(name_or_path, mode, **kwargs)
    if preset is not None:  # one loader may serve several presets (e.g. a "-think" variant)
        kwargs["preset"] = preset
    return loader(name_or_path, mode=mode, **kwargs)


def load_qwen_vl(name_or_path: str | os.PathLike = "tiny", mode: str | None = None, *,
                 dimensions: list[str] | None = None, dtype: str | None = None, device: str | None = None,
                 attn_implementation: str | None = None, min_pixels: int | None = None,
                 max_pixels: int | None = None, video_min_pixels: int | None = None,
                 video_max_pixels: int | None = None, video_frames: int | None = None,
                 max_image_pixels: int | None = None, max_media_bytes: int | None = None,
                 max_video_frames: int | None = None, default_fps: float | None = None,
                 max_batch_tokens: int | None = None, max_prompt_tokens: int | None = None,
                 **config_overrides) -> RewardModel:
    """A Qwen-VL reward model from `tiny`, a local checkpoint directory or a hub id.

    `mode` defaults to the checkpoint's reward_config.json, else "scalar". A plain
    VLM checkpoint gets a freshly initialised head in scalar mode: a warning says its scores are
    untrained, `info["untrained_head"]` is True and every output carries `"untrained_head": true`.
    `max_batch_tokens` / `max_prompt_tokens`: see `TokenBudget` (checked before loading).
    """
    budget = TokenBudget(max_batch_tokens, max_prompt_tokens)
    pixels = dict(min_pixels=min_pixels, max_pixels=max_pixels, video_min_pixels=video_min_pixels,
                  video_max_pixels=video_max_pixels)
    if str(name_or_path) == "tiny":
        pixels = {k: v if v is not None else TINY_PIXELS[k] for k, v in pixels.items()}
    backbone, processor, path = load_backbone(name_or_path, BackboneOptions(
        dtype=dtype, device=device, attn_implementation=attn_implementation, **pixels))
    config = RewardConfig.load(path) or RewardConfig()
    if mode is not None:
        config.mode = mode
    if dimensions is not None:
        config.dimensions = list(dimensions)
    if video_frames is not None:
        config.video_frames = video_frames
    for key, value in config_overrides.items():
        if not hasattr(config, key):
            from mmreward.errors import ConfigError

            raise ConfigError(f"option {key!r} does not apply to a Qwen-VL reward model (released models' "
                              "options work with their presets: see `mmreward models`)")
        setattr(config, key, value)
    config.__post_init__()
    module = build_module(backbone, processor, config, path)
    caps = dict(max_image_pixels=max_image_pixels, max_media_bytes=max_media_bytes,
                max_video_frames=max_video_frames, default_fps=default_fps)
    media = MediaOptions(video_frames=config.video_frames, **{k: v for k, v in caps.items() if v is not None})
    return RewardModel(module, processor, config, path, media, budget)
