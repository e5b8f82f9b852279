"""Loading a Qwen-VL backbone and its processor from `tiny`, a local directory or a hub id."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from mmreward.errors import ModelNotFoundError

# model_type in config.json -> transformers class name
MODEL_CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
    "qwen3_vl_moe": "Qwen3VLMoeForConditionalGeneration",
}


@dataclass
class BackboneOptions:
    dtype: str | None = None  # "bfloat16", "float16", "float32"; default bf16 on GPU, fp32 on CPU
    device: str | None = None  # "cpu", "cuda", "cuda:1"; default cuda when available
    attn_implementation: str | None = None  # "sdpa", "flash_attention_2", "eager"
    min_pixels: int | None = None  # image pixel bounds for the processor's resize
    max_pixels: int | None = None
    # video pixel bounds, passed to the checkpoint's video processor as they are: Qwen2/2.5-VL's bound
    # each frame, Qwen3-VL's bound the whole clip (frames x height x width, its smart_resize takes T)
    video_min_pixels: int | None = None
    video_max_pixels: int | None = None


def looks_like_path(name: str) -> bool:
    # hub ids are 'name' or 'org/name'; anything else with a separator is meant as a directory
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def resolve_name(name_or_path: str | os.PathLike) -> str:
    """`tiny` / `tiny-hd64` -> the cached tiny checkpoint; anything else is passed to from_pretrained as is."""
    name = str(name_or_path)
    from mmreward.models.tiny import TINY_NAMES, tiny_checkpoint

    if name in TINY_NAMES:
        return str(tiny_checkpoint(name))
    if looks_like_path(name) and not os.path.exists(os.path.expanduser(name)):
        raise ModelNotFoundError(f"model {name!r}: no such checkpoint directory")
    return os.path.expanduser(name)


def default_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str | None, device: str):
    import torch

    if dtype in (None, "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16,
                "fp16": torch.float16, "float32": torch.float32, "fp32": torch.float32}[str(dtype)]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use bfloat16, float16 or float32") from None


def inference_mode(fn):
    """`@torch.inference_mode()` for modules that import torch only when they run (a model
    family's module: `mmreward.families`)."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.inference_mode():
            return fn(*args, **kwargs)

    return run


def model_class_for(path: str):
    import transformers
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path)
    name = MODEL_CLASSES.get(config.model_type)
    if name is None:
        raise ValueError(
            f"{path}: model_type {config.model_type!r} is not a supported backbone "
            f"(supported: {', '.join(MODEL_CLASSES)})"
        )
    return getattr(transformers, name)


def load_processor(path: str, opts: BackboneOptions):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(path)
    if opts.min_pixels or opts.max_pixels:
        size = dict(processor.image_processor.size)
        size["shortest_edge"] = opts.min_pixels or size["shortest_edge"]
        size["longest_edge"] = opts.max_pixels or size["longest_edge"]
        processor.image_processor.size = size
    video = getattr(processor, "video_processor", None)
    if video is not None and (opts.video_min_pixels or opts.video_max_pixels):
        size = dict(video.size)
        size["shortest_edge"] = opts.video_min_pixels or size["shortest_edge"]
        size["longest_edge"] = opts.video_max_pixels or size["longest_edge"]
        video.size = size
    if video is not None and hasattr(type(video), "cap_pixels_per_frame"):
        # transformers >= 5.2x may shrink frames to a share of a whole-video budget (qwen-vl-utils'
        # rule) and warns until told. Keep each frame within the per-frame bound alone: that is
        # what --video-max-pixels documents, what the processor's token counter
        # (get_num_of_video_patches, used before every forward pass) computes, and what the
        # released checkpoints' official scripts got from the transformers of their time
        video.cap_pixels_per_frame = False
    # batched prompts are read at their last real token; right padding keeps positions simple
    processor.tokenizer.padding_side = "right"
    return processor


def load_backbone(name_or_path: str | os.PathLike, opts: BackboneOptions | None = None, weights: bool = True):
    """Return (model, processor, path) for a Qwen2-VL / Qwen2.5-VL / Qwen3-VL checkpoint.

    `weights=False`: the model is built on the meta device (config, architecture, no memory), for
    callers whose forward passes run elsewhere (`--engine vllm`)."""
    from mmreward.models.adapters import adapter_base, merged

    opts = opts or BackboneOptions()
    path = resolve_name(name_or_path)
    base = adapter_base(path)  # a LoRA adapter directory: its base checkpoint, then the adapters
    if base is None and Path(path).exists() and not (Path(path) / "config.json").is_file():
        raise ModelNotFoundError(f"{path} is a directory without config.json, not a checkpoint")
    source = resolve_name(base) if base else path  # where the weights (LoRA: the base weights) are
    if not weights:
        import torch
        from transformers import AutoConfig, GenerationConfig

        config = AutoConfig.from_pretrained(source)
        with torch.device("meta"):
            model = model_class_for(source)._from_config(config)
        try:
            model.generation_config = GenerationConfig.from_pretrained(source)
        except OSError:
            pass
        return model.eval(), load_processor(path, opts), path
    device = default_device(opts.device)
    kwargs = {"dtype": resolve_dtype(opts.dtype, device)}
    if opts.attn_implementation:
        kwargs["attn_implementation"] = opts.attn_implementation
    try:
        model_class = model_class_for(source)
    except OSError as exc:  # the hub has no such repo, or could not be reached: say which model
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f"model {str(name_or_path)!r} could not be loaded: {reason}") from None
    model = read_weights(model_class, source, **kwargs)
    if base:
        model = merged(model, path)
    model.to(device).eval()
    return model, load_processor(path, opts), path


def read_weights(cls, path: str, **kwargs):
    """`cls.from_pretrained(path)`, with a damaged weights file (truncated, not safetensors) as one
    clear InputError instead of the reader's traceback."""
    from safetensors import SafetensorError

    from mmreward.errors import InputError

    try:
        model = cls.from_pretrained(path, **kwargs)
    except SafetensorError as exc:
        raise InputError(f"{path}: a weights file is damaged (truncated or not safetensors: {exc})") from None
    keep_used_renamings(model)
    return model


def keep_used_renamings(model) -> None:
    """The weight renamings `save_pretrained` reverts: those the load applied. transformers' DeepSpeed
    ZeRO-3 loader keeps every renaming of the family's mapping (its other loader keeps the used ones),
    and reverting one never applied saves a Qwen-VL as `model.model.layers.*`, which no loader reads."""
    conversions = getattr(model, "_weight_conversions", None)
    if conversions and all(hasattr(c, "was_used") for c in conversions):
        model._weight_conversions = [c for c in conversions if c.was_used()]


def enable_checkpointing(model, kwargs=None) -> None:
    """Activation checkpointing of a transformers model (non-reentrant: frozen embeddings, as with LoRA,
    need no input gradients)."""
    kwargs = {"use_reentrant": False, **(kwargs or {})}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.25
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

