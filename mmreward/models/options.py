"""The options every command that loads a reward model shares (score, eval run, serve, probe, app, ...).

They are the keyword arguments of `mmreward.load`; the CLI is generated from these
dataclasses (`mmreward.commands.parsing`), so a flag, its help text and its default
are written once, here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from mmreward.errors import ConfigError


def check_positive(options, names: tuple[str, ...], minimum=1) -> None:
    """Numbers the user gave that cannot work, refused before any model loads."""
    for name in names:
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or value < minimum):
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {minimum}, got {value!r}")


@dataclass
class ModelOptions:
    """Which model, on which device, in which precision, with which media resolution."""

    _argument_group_name = "model"

    model: str = field(default="tiny", metadata={
        "help": "'tiny' (offline, random weights), a checkpoint directory, a hub id, or a named reward "
                "(see `mmreward models`)"})
    preset: str | None = field(default=None, metadata={
        "help": "load the checkpoint with a released model's own prompts and parsing (see `mmreward models`)"})
    mode: Literal["scalar", "generative"] | None = field(default=None, metadata={
        "help": "scalar: MLP reward head; generative: P('yes'). Default: the checkpoint's, else scalar"})
    dtype: str | None = field(default=None, metadata={
        "help": "bfloat16 | float16 | float32. Default: bf16 on GPU, fp32 on CPU"})
    device: str | None = field(default=None, metadata={
        "help": "cpu, cuda, cuda:1. Default: cuda if available; under accelerate launch each process "
                "uses its own device"})
    attn_implementation: str | None = field(default=None, metadata={"help": "sdpa | flash_attention_2 | eager"})
    min_pixels: int | None = field(default=None, metadata={"help": "image resize lower bound in pixels"})
    max_pixels: int | None = field(default=None, metadata={"help": "image resize upper bound in pixels"})
    video_max_pixels: int | None = field(default=None, metadata={
        "help": "video pixel bound, as the checkpoint's video processor reads it: per frame for "
                "Qwen2/2.5-VL, for the whole clip (frames x H x W) for Qwen3-VL"})
    video_frames: int | None = field(default=None, metadata={
        "help": "frames sampled uniformly per video. Default: the checkpoint's, else 8"})

    def __post_init__(self):
        check_positive(self, ("min_pixels", "max_pixels", "video_max_pixels", "video_frames"))

    def load_kwargs(self) -> dict:
        """Keyword arguments for `mmreward.load` (None means: the model's own default)."""
        return {k: v for k, v in asdict(self).items() if k not in ("model", "mode") and v is not None}


@dataclass
class JudgeOptions:
    """How a loaded model judges records (scoring commands only)."""

    _argument_group_name = "judging"

    criteria: str | None = field(default=None, metadata={
        "help": "criteria text for records that give none (generative questions, scalar prompts)"})
    form: Literal["auto", "pointwise", "pairwise"] | None = field(default=None, metadata={
        "help": "generative mode: one candidate at a time, or A against reference B. Default: the "
                "checkpoint's, else auto = pairwise for 2 candidates"})
    rationale_tokens: int | None = field(default=None, metadata={
        "help": "generative mode: the model first explains its judgement in up to this many tokens "
                "(greedy), then P(yes) is read; outputs gain 'rationales'. Default 0: off"})
    max_image_pixels: int | None = field(default=None, metadata={
        "help": "refuse images larger than this many pixels. Default 64M"})
    max_media_bytes: int | None = field(default=None, metadata={
        "help": "refuse an image or video given as bytes or a data: URI above this many bytes. Default 100M"})
    max_video_frames: int | None = field(default=None, metadata={
        "help": "refuse a video given as frames with more frames than this. Default 2048"})
    default_fps: float | None = field(default=None, metadata={
        "help": "frame rate of a video given as frames when neither it nor its record has an 'fps'. "
                "Default 24"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "Qwen-VL models: padded tokens per forward pass, at most (prompts x the longest; prompts "
                "are sorted by length first). Default: from the GPU's free memory, 16384 on CPU"})
    max_prompt_tokens: int | None = field(default=None, metadata={
        "help": "Qwen-VL models: a record with a longer prompt (text + visual tokens) is an error line, "
                "before any forward pass. Default: the model's context length"})
    # released models' own options (mmreward.presets; see `mmreward models`)
    task: Literal["pair-rank", "point-score"] | None = field(default=None, metadata={
        "help": "UnifiedReward: pair-rank (2 candidates, one verdict) or point-score (one score each). "
                "Default: pair-rank for 2 candidates"})
    media: Literal["image", "video"] | None = field(default=None, metadata={
        "help": "UnifiedReward: the candidates' media (default: read from the records)"})
    max_new_tokens: int | None = field(default=None, metadata={
        "help": "UnifiedReward, VR-Thinker: generation limit per answer (default: the official script's, "
                "512 to 4096)"})
    variant: Literal["vr-thinker", "vrthinker"] | None = field(default=None, metadata={
        "help": "VR-Thinker: whose protocol a checkpoint directory speaks, qunwang13/vr-thinker's or "
                "qunwang13/vrthinker's (the hub ids pick theirs). Default vr-thinker"})
    normalize: bool | None = field(default=None, metadata={
        "help": "VideoReward: normalise the head outputs with the release's inference_config "
                "(default true; false gives the raw outputs)"})

    def __post_init__(self):
        check_positive(self, ("max_image_pixels", "max_media_bytes", "max_video_frames", "max_batch_tokens",
                              "max_prompt_tokens"))
        check_positive(self, ("rationale_tokens",), minimum=0)
        if self.default_fps is not None and not self.default_fps > 0:
            raise ConfigError(f"--default-fps must be a positive number, got {self.default_fps!r}")

    def load_kwargs(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class TrainModelOptions:
    """The checkpoint a training stage starts from (train bt, sft, rft, grpo).

    No --device: accelerate places the model on each process's device. No --mode: the stage
    decides it (bt trains the scalar head, sft --objective yes-token the yes/no answer).
    """

    _argument_group_name = "model"

    model: str = field(default="tiny", metadata={
        "help": "initial checkpoint: 'tiny' (offline, random weights), a directory or a hub id"})
    dtype: str | None = field(default=None, metadata={
        "help": "dtype the weights are loaded and kept in: bfloat16 | float16 | float32. Default: float32, "
                "i.e. fp32 master weights (on a GPU the forward runs under bf16 autocast, see --bf16)"})
    attn_implementation: str | None = field(default=None, metadata={"help": "sdpa | flash_attention_2 | eager"})
    min_pixels: int | None = field(default=None, metadata={
        "help": "image resize lower bound in pixels. Default: the checkpoint's processor setting"})
    max_pixels: int | None = field(default=None, metadata={
        "help": "image resize upper bound in pixels. Default: the checkpoint's processor setting"})
