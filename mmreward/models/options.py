"""Load options, each written once: the groups that several model families share, and the
command-line groups built from them.

A family's options dataclass (`mmreward.families`) is composed of the shared groups below
(`RuntimeOptions`, `PixelOptions`, `MediaCapOptions`, `TokenBudgetOptions`, `JudgingOptions`)
plus its own fields; the CLI groups (`ModelOptions`, `JudgeOptions`, `TrainModelOptions`) are
the same fields, so a flag, its help text and its default are written once, here. Every field is
an `mmreward.load` keyword; None means "the model's own default". (A dataclass lists the fields
of its bases right to left: `class Opts(MediaCapOptions, RuntimeOptions)` starts with dtype.) Numbers that cannot work
(a group's `_minimum` / `_positive`) are refused by `Options.__post_init__`, before any model loads.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field, fields
from typing import ClassVar, Literal, Optional

from mmreward.errors import ConfigError


def check_positive(options, names: tuple[str, ...], minimum=1) -> None:
    """Numbers the user gave that cannot work, refused before any model loads."""
    for name in names:
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or value < minimum):
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {minimum}, got {value!r}")


@dataclass
class Options:
    """Base of every options group: refuses numbers that cannot work, before any model loads.
    A group names them in `_minimum` ({field: least int}) and `_positive` (fields > 0)."""

    _minimum: ClassVar[dict] = {}
    _positive: ClassVar[tuple] = ()

    def __post_init__(self):
        minimum, positive = limits(type(self))
        for name, least in minimum.items():
            check_positive(self, (name,), least)
        for name in positive:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number, got {value!r}")

    def given(self) -> dict:
        """The options set (not None), as `mmreward.load` keywords."""
        # shallow: asdict would deep-copy live objects passed as options (an engine= holds queues)
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def limits(cls) -> tuple[dict, tuple]:
    """`_minimum` and `_positive` of `cls` and every group it is made of."""
    minimum, positive = {}, ()
    for klass in reversed(cls.__mro__):
        minimum.update(klass.__dict__.get("_minimum", {}))
        positive += klass.__dict__.get("_positive", ())
    return minimum, positive


# ------------------------------------------------------------------------- shared groups

@dataclass
class DeviceOptions(Options):
    """Where and in which precision the weights run."""

    dtype: str | None = field(default=None, metadata={
        "help": "bfloat16 | float16 | float32. Default: bf16 on GPU, fp32 on CPU"})
    device: str | None = field(default=None, metadata={
        "help": "cpu, cuda, cuda:1. Default: cuda if available; under accelerate launch each process "
                "uses its own device"})


@dataclass
class RuntimeOptions(DeviceOptions):
    """Where, in which precision and with which attention kernel a transformers backbone runs."""

    attn_implementation: str | None = field(default=None, metadata={"help": "sdpa | flash_attention_2 | eager"})


@dataclass
class PixelOptions(Options):
    """The media resolution a Qwen-VL processor is given."""

    _minimum = {"min_pixels": 1, "max_pixels": 1, "video_max_pixels": 1, "video_frames": 1}

    min_pixels: int | None = field(default=None, metadata={
        "help": "image resize lower bound in pixels"})
    max_pixels: int | None = field(default=None, metadata={
        "help": "image resize upper bound in pixels"})
    video_max_pixels: int | None = field(default=None, metadata={
        "help": "video pixel bound, as the checkpoint's video processor reads it: per frame for "
                "Qwen2/2.5-VL, for the whole clip (frames x H x W) for Qwen3-VL"})
    video_frames: int | None = field(default=None, metadata={
        "help": "frames sampled uniformly per video. Default: the checkpoint's, else 8"})


@dataclass
class EngineOptions(Options):
    """What runs the generation (`mmreward.engines`)."""

    engine: Literal["hf", "vllm"] | None = field(default=None, metadata={
        "help": "what generates and reads P(yes): hf (transformers) or vllm (generative judges, yes-token "
                "mode, the agent; extra mmreward[vllm]; from Python also an Engine). Default: hf"})


@dataclass
class MediaCapOptions(Options):
    """Limits on a record's media (`mmreward.scoring.media.MediaOptions`; None: its default)."""

    _minimum = {"max_image_pixels": 1, "max_media_bytes": 1, "max_video_frames": 1}
    _positive = ("default_fps",)

    max_image_pixels: int | None = field(default=None, metadata={
        "help": "refuse images larger than this many pixels. Default 64M"})
    max_media_bytes: int | None = field(default=None, metadata={
        "help": "refuse an image or video given as bytes or a data: URI above this many bytes. Default 100M"})
    max_video_frames: int | None = field(default=None, metadata={
        "help": "refuse a video given as frames with more frames than this. Default 2048"})
    default_fps: float | None = field(default=None, metadata={
        "help": "frame rate of a video given as frames when neither it nor its record has an 'fps'. "
                "Default 24"})


@dataclass
class TokenBudgetOptions(Options):
    """The Qwen-VL engine's token limits (`mmreward.scoring.batching.TokenBudget`)."""

    _minimum = {"max_batch_tokens": 1, "max_prompt_tokens": 1}

    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "Qwen-VL models: padded tokens per forward pass, at most (prompts x the longest; prompts "
                "are sorted by length first). Default: from the GPU's free memory, 16384 on CPU"})
    max_prompt_tokens: int | None = field(default=None, metadata={
        "help": "Qwen-VL models: a record with a longer prompt (text + visual tokens) is an error line, "
                "before any forward pass. Default: the model's context length"})


@dataclass
class JudgingOptions(Options):
    """How a Qwen-VL model judges records."""

    _minimum = {"rationale_tokens": 0}

    criteria: str | None = field(default=None, metadata={
        "help": "criteria text for records that give none (generative questions, scalar prompts)"})
    form: Literal["auto", "pointwise", "pairwise"] | None = field(default=None, metadata={
        "help": "generative mode: one candidate at a time, or A against reference B. Default: the "
                "checkpoint's, else auto = pairwise for 2 candidates"})
    rationale_tokens: int | None = field(default=None, metadata={
        "help": "generative mode: the model first explains its judgement in up to this many tokens "
                "(greedy), then P(yes) is read; outputs gain 'rationales'. Default 0: off"})


def copy_field(f: dataclasses.Field) -> dataclasses.Field:
    """A fresh `field()` like `f` (a Field object belongs to the one class it was declared in)."""
    return field(default=f.default, default_factory=f.default_factory, metadata=f.metadata)


def compose(name: str, *parts, first: tuple = (), last: tuple = (), group: str | None = None,
            doc: str | None = None, methods: dict | None = None) -> type:
    """A dataclass holding `first` fields (name, type, field), then every field of `parts`
    (shared groups, in order), then `last`; its `__post_init__` is `Options`' checks."""
    shared = [(f.name, typing.get_type_hints(part)[f.name], copy_field(f))
              for part in parts for f in dataclasses.fields(part)]
    minimum, positive = {}, ()
    for part in parts:
        part_minimum, part_positive = limits(part)
        minimum, positive = {**minimum, **part_minimum}, positive + part_positive
    namespace = {"__doc__": doc, "_minimum": minimum, "_positive": positive, **(methods or {})}
    if group:
        namespace["_argument_group_name"] = group
    return dataclasses.make_dataclass(name, [*first, *shared, *last], bases=(Options,), namespace=namespace)


# ------------------------------------------------------------------------- command-line groups

def _model_load_kwargs(self) -> dict:
    """Keyword arguments for `mmreward.load` (None means: the model's own default)."""
    return {k: v for k, v in self.given().items() if k not in ("model", "mode", "model_option")}


ModelOptions = compose(
    "ModelOptions", RuntimeOptions, PixelOptions, EngineOptions, group="model", methods={"load_kwargs": _model_load_kwargs},
    doc="Which model, on which device, in which precision, with which media resolution.",
    first=(("model", str, field(default="tiny", metadata={
               "help": "'tiny' (offline, random weights), a checkpoint directory, a hub id, or a named reward "
                       "(see `mmreward models`)"})),
           ("preset", Optional[str], field(default=None, metadata={
               "help": "load the checkpoint with a released model's own prompts and parsing (see `mmreward models`)"})),
           ("mode", Optional[Literal["scalar", "generative"]], field(default=None, metadata={
               "help": "scalar: MLP reward head; generative: P('yes'). Default: the checkpoint's, else scalar"}))),
    last=(("model_option", Optional[list[str]], field(default=None, metadata={
        "help": "a model family's own option as KEY=VALUE (repeatable), typed by its family: any option "
                "`mmreward models --format json` lists, e.g. --model-option checkpoint_step=400 base=DIR; "
                "in a --config file a mapping"})),))

JudgeOptions = compose(
    "JudgeOptions", JudgingOptions, MediaCapOptions, TokenBudgetOptions, group="judging",
    doc="How a loaded model judges records (scoring commands only).", methods={"load_kwargs": Options.given})


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
