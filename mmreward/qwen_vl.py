"""The Qwen-VL reward models (the default family): `tiny`, a checkpoint directory or a hub id of a
Qwen2-VL, Qwen2.5-VL or Qwen3-VL model, scored by `mmreward.scoring.engine` with a scalar head or
the yes-token read-out.

`mmreward.load(NAME)` comes here for every name no other family claims (`mmreward.registry`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmreward.errors import ConfigError
from mmreward.families import Family
from mmreward.models.options import (EngineOptions, JudgingOptions, MediaCapOptions, PixelOptions, RuntimeOptions,
                                     TokenBudgetOptions)
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.media import MediaOptions

# The tiny preset runs on CPU: keep its visual token counts small by default.
TINY_PIXELS = dict(min_pixels=28 * 28, max_pixels=256 * 28 * 28,
                   video_min_pixels=4 * 28 * 28, video_max_pixels=64 * 28 * 28)


@dataclass
class QwenVLOptions(EngineOptions, TokenBudgetOptions, MediaCapOptions, JudgingOptions, PixelOptions,
                    RuntimeOptions):
    """The options of a Qwen-VL reward model (None: the checkpoint's reward_config.json, else the default)."""

    _minimum = {"video_min_pixels": 1, "head_inner_size": 1}

    video_min_pixels: int | None = field(default=None, metadata={
        "help": "video pixel lower bound, as the checkpoint's video processor reads it"})
    dimensions: list[str] | None = field(default=None, metadata={
        "help": "scalar mode: extra named heads besides the reward, e.g. VQ,MQ,TA"})
    both_orders: bool | None = field(default=None, metadata={
        "help": "generative pairwise: also ask with A and B swapped and average (default true)"})
    head_inner_size: int | None = field(default=None, metadata={
        "help": "scalar mode, fresh head: width of its hidden layer (default: the backbone's)"})


class RewardModel(BaseRewardModel):
    """A Qwen-VL reward model (scalar head or yes-token): `.score(records)` returns the output dicts."""

    #: records per `score_chunk` call, in batches: the prompts of a chunk are sorted by length
    #: before they are packed into batches, so a larger chunk pads less (and holds more media)
    CHUNK_BATCHES = 4

    def __init__(self, module, processor, config: RewardConfig, path: str,
                 media: MediaOptions | None = None, budget: TokenBudget | None = None, engine=None):
        self.module, self.processor, self.config, self.path = module, processor, config, path
        from mmreward.scoring.engine import Scorer

        self.media = media or MediaOptions(video_frames=config.video_frames)
        self.scorer = Scorer(module, processor, config, budget, engine)
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
        if self.scorer.engine is not None:
            info["engine"] = self.scorer.engine.name
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
    from mmreward.models.generative import YesTokenRewardModel, answer_token_ids
    from mmreward.models.scalar import ScalarRewardModel

    if config.mode == "scalar":
        module = ScalarRewardModel(backbone, config)
        module.untrained_head = not (path is not None and module.load_head(path))
        return module
    return YesTokenRewardModel(backbone, *answer_token_ids(processor.tokenizer), config=config)


#: reward_config.json fields a load option overrides (None: the checkpoint's)
CONFIG_OPTIONS = ("dimensions", "video_frames", "criteria", "form", "rationale_tokens", "both_orders",
                  "head_inner_size")


def load(name_or_path: str | os.PathLike, mode: str | None, options: QwenVLOptions) -> RewardModel:
    """A Qwen-VL reward model from `tiny`, a local checkpoint directory or a hub id.

    `mode` defaults to the checkpoint's reward_config.json, else "scalar". A plain
    VLM checkpoint gets a freshly initialised head in scalar mode: a warning says its scores are
    untrained, `info["untrained_head"]` is True and every output carries `"untrained_head": true`.
    `max_batch_tokens` / `max_prompt_tokens`: see `TokenBudget` (checked before loading).
    `engine`: "hf" (default) or "vllm" (generative mode: rationales and P(yes) on a vLLM engine,
    `mmreward.engines`; the transformers weights are then not loaded), or an `Engine` instance.
    """
    from mmreward.engines import Engine, build_engine, check_engine, wants_vllm
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.models.config import RewardConfig
    from mmreward.models.tiny import TINY_NAMES
    from mmreward.scoring.batching import TokenBudget

    budget = TokenBudget(options.max_batch_tokens, options.max_prompt_tokens)
    engine = options.engine
    if not isinstance(engine, Engine):
        check_engine(engine)
    pixels = {k: getattr(options, k) for k in TINY_PIXELS}
    if str(name_or_path) in TINY_NAMES:
        pixels = {k: v if v is not None else TINY_PIXELS[k] for k, v in pixels.items()}
    vllm = wants_vllm(engine)
    if vllm and mode == "scalar":
        raise ConfigError("--engine vllm runs the generative (yes-token) mode; scalar heads run on --engine hf")
    backbone, processor, path = load_backbone(name_or_path, BackboneOptions(
        dtype=options.dtype, device=options.device, attn_implementation=options.attn_implementation, **pixels),
        weights=not vllm)
    config = RewardConfig.load(path) or RewardConfig()
    if mode is not None:
        config.mode = mode
    if vllm and config.mode != "generative":
        raise ConfigError(f"{path}: --engine vllm runs the generative (yes-token) mode; this checkpoint is "
                          f"{config.mode} (pass --mode generative, or --engine hf)")
    for key in CONFIG_OPTIONS:
        if getattr(options, key) is not None:
            setattr(config, key, getattr(options, key))
    try:
        config.__post_init__()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    module = build_module(backbone, processor, config, path)
    media = MediaOptions.with_caps(options, video_frames=config.video_frames)
    engine = build_engine(engine, backbone, processor, path, dtype=options.dtype) if vllm else None
    return RewardModel(module, processor, config, path, media, budget, engine)


FAMILY = Family(
    name="qwen-vl", title="Qwen-VL reward model", loader="mmreward.qwen_vl:load", options=QwenVLOptions,
    default=True, modes=("scalar", "generative"),
    catalog=({"name": "tiny, a checkpoint directory or hub id", "backbone": "Qwen2-VL, Qwen2.5-VL, Qwen3-VL",
              "kind": "scalar: MLP head on the last token; generative: P(yes) of a yes/no question",
              "outputs": "rewards (+ dimensions of named heads; p_yes and rationales in generative mode)",
              "needs": "a checkpoint from `mmreward train` (a plain VLM gets an untrained head in scalar mode)",
              "use": "mmreward score --model runs/bt --input IN --output OUT"},),
)
