"""Many prompts -> padded model batches, through the checkpoint's own processor.

`count_tokens` gives a prompt's length before any pixel is processed: the chat-template
text through the tokenizer, plus the visual tokens that the processor's own helpers derive
from each image's and clip's size (the grid sizes it would compute, the helpers vLLM uses).
`token_batches` then packs prompts sorted by length under a budget of padded tokens, so a
long prompt never drags a batch of short ones to its length.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import torch
from PIL import Image

from mmreward.errors import ConfigError
from mmreward.scoring.prompts import Prompt

CPU_BATCH_TOKENS = 16384  # padded tokens per forward pass on CPU (the default budget)


def render(processor, prompt: Prompt) -> str:
    return processor.apply_chat_template(
        prompt.messages, tokenize=False, add_generation_prompt=prompt.add_generation_prompt
    )


def _video_frames(video):
    return getattr(video, "frames", video)


def _video_metadata(video) -> dict:
    """The clip's timing (`video.SampledClip.metadata`), else what transformers assumes for bare frames."""
    if hasattr(video, "metadata"):
        return video.metadata()
    t, h, w = _frames_thw(_video_frames(video))
    return {"total_num_frames": t, "fps": None, "duration": None, "frames_indices": list(range(t)),
            "height": h, "width": w}


def collate(processor, prompts: list[Prompt], device=None, extra_text: list[str] | None = None,
            texts: list[str] | None = None, padding_side: str | None = None):
    """Tokenise and pad `prompts`; images and videos are expanded to their pad tokens.

    `extra_text[i]` is appended after prompt i's rendered text (used to place an
    answer token at a known position for training). `texts` are the rendered prompts
    when the caller has them already (`count_tokens` renders them too). `padding_side`: this
    call's, else the tokenizer's (per call: the tokenizer is shared by concurrent callers).
    """
    texts = list(texts) if texts is not None else [render(processor, p) for p in prompts]
    if extra_text is not None:
        texts = [t + e for t, e in zip(texts, extra_text)]
    kwargs = media_kwargs(prompts)
    if padding_side is not None:
        kwargs["padding_side"] = padding_side
    batch = processor(text=texts, padding=True, return_tensors="pt", **kwargs)
    return batch.to(device) if device is not None else batch


def media_kwargs(prompts: list[Prompt]) -> dict:
    """The processor's media keyword arguments for `prompts` (their images and videos in order)."""
    images = [im for p in prompts for im in p.images]
    videos = [v for p in prompts for v in p.videos]
    kwargs = {}
    if images:
        kwargs["images"] = images
    if videos:
        kwargs["videos"] = [_video_frames(v) for v in videos]
        # The frames are already the uniformly sampled `video_frames` of each clip (mmreward.scoring.media).
        # Qwen3-VL's video processor samples again by default (2 fps of an assumed 24 fps clip,
        # at least 4 frames), which would silently drop most of them.
        kwargs["do_sample_frames"] = False
        # without the clip's fps the processor assumes 24 fps frame-by-frame: Qwen2.5-VL's temporal
        # positions and Qwen3-VL's "<t seconds>" labels would be wrong. Every clip gets an entry
        # (bare frames: the processor's own assumption), so a prompt's length does not depend on
        # which other prompts share its batch.
        kwargs["video_metadata"] = [_video_metadata(v) for v in videos]
    return kwargs


# ------------------------------------------------------------------ lengths before the forward pass

def _image_hw(image) -> tuple[int, int]:
    if isinstance(image, Image.Image):
        w, h = image.size
        return h, w
    shape = tuple(image.shape)  # numpy HWC / HW, torch CHW
    if len(shape) == 2:
        return shape[0], shape[1]
    return (shape[0], shape[1]) if shape[-1] in (1, 3, 4) else (shape[-2], shape[-1])


def _frames_thw(frames) -> tuple[int, int, int]:
    if isinstance(frames, (list, tuple)):  # list of PIL frames
        h, w = _image_hw(frames[0])
        return len(frames), h, w
    shape = tuple(frames.shape)  # numpy THWC, torch TCHW
    if shape[-1] in (1, 3, 4):
        return shape[0], shape[1], shape[2]
    return shape[0], shape[-2], shape[-1]


def _n_tokens(tokenizer, text: str, **kwargs) -> int:
    # verbose=False: no "sequence length is longer than the specified maximum" warning; a prompt
    # over the limit becomes its record's error line, which says so
    return len(tokenizer(text, verbose=False, **kwargs)["input_ids"])


# A prompt's length is the length of the text the processor tokenises: the rendered prompt with
# each image and video placeholder replaced by its expansion. The expansion differs between
# transformers releases (Qwen3-VL: 5.10 to 5.24 keep the chat template's <|vision_start|> and
# <|vision_end|> around the timestamped frames, 5.9 and 5.25 replace them), and BPE merges across
# the seams (":<" in "A:<0.5 seconds>"), so the text is expanded by the processor's own rules and
# tokenised whole. Each run of pad tokens stands in as one pad (a special token is one token
# whatever surrounds it) and the rest are added, so a prompt far over the context costs no
# megabyte-long string.

def _image_tokens(processor, images) -> list[int]:
    sizes = [_image_hw(im) for im in images]
    return list(processor._get_num_multimodal_tokens(image_sizes=sizes).num_image_tokens)


def _video_grid(processor, video) -> tuple[int, int]:
    """(frame groups, tokens per group) of the grid the video processor will compute for `video`."""
    t, h, w = _frames_thw(_video_frames(video))
    vp = processor.video_processor
    if hasattr(vp, "get_num_of_video_patches"):
        patches = vp.get_num_of_video_patches(t, h, w, {})
    else:  # transformers < 5.10: Qwen3-VL's video processor resizes with its module's smart_resize
        patches = _patches_by_smart_resize(vp, t, h, w)
    groups = -(-t // vp.temporal_patch_size)
    return groups, patches // groups // vp.merge_size ** 2


def _patches_by_smart_resize(vp, t: int, h: int, w: int) -> int:
    # the resize step of Qwen3VLVideoProcessor._preprocess in transformers 5.9
    # (transformers/models/qwen3_vl/video_processing_qwen3_vl.py)
    smart_resize = sys.modules[type(vp).__module__].smart_resize
    rh, rw = smart_resize(num_frames=t, height=h, width=w, temporal_factor=vp.temporal_patch_size,
                          factor=vp.patch_size * vp.merge_size, min_pixels=vp.size["shortest_edge"],
                          max_pixels=vp.size["longest_edge"])
    return -(-t // vp.temporal_patch_size) * (rh // vp.patch_size) * (rw // vp.patch_size)


def _video_text(processor, video, groups: int) -> str:
    """The replacement of one video placeholder with one pad token per frame group."""
    merge = processor.video_processor.merge_size ** 2
    grid = torch.tensor([[groups, merge, 1]])  # only grid[0] and grid[1:].prod() shape the text
    meta = _metadata_object(_video_metadata(video))
    if hasattr(processor, "replace_video_token"):
        return processor.replace_video_token({"video_grid_thw": grid, "video_metadata": [meta]}, 0)
    if not hasattr(processor, "_calculate_timestamps"):  # Qwen2-/Qwen2.5-VL before 5.10
        return processor.video_token * groups
    # Qwen3-VL before 5.10 builds the text in __call__ (transformers 5.9, processing_qwen3_vl.py)
    times = processor._calculate_timestamps(meta.frames_indices, meta.fps or 24,
                                            processor.video_processor.temporal_patch_size)
    return "".join(f"<{times[g]:.1f} seconds>{processor.vision_start_token}{processor.video_token}"
                   f"{processor.vision_end_token}" for g in range(groups))


def _expand(processor, text: str, image_texts: list[str], video_texts: list[str]) -> str:
    # placeholders written in the prompt's own text no longer match its media: refused here, as
    # transformers 5.25's processor refuses them (5.9's indexes past its grids: an IndexError)
    for token, given, noun in ((processor.image_token, image_texts, "image"),
                               (processor.video_token, video_texts, "video")):
        if text.count(token) != len(given):
            raise ValueError(f"the prompt's text holds {text.count(token)} {token} placeholders for "
                             f"{len(given)} {noun}(s): a placeholder token written in the text")
    if hasattr(processor, "get_text_with_replacements") and hasattr(processor, "replace_video_token"):
        return processor.get_text_with_replacements(
            [text], images_replacements=image_texts, videos_replacements=video_texts)[0][0]
    # transformers < 5.10: each processor's __call__ replaces the placeholders in order; Qwen3-VL's
    # takes the chat template's <|vision_start|><|video_pad|><|vision_end|> whole
    alternatives = [re.escape(processor.image_token), re.escape(processor.video_token)]
    if hasattr(processor, "_calculate_timestamps"):
        alternatives.insert(0, re.escape(processor.vision_start_token + processor.video_token
                                         + processor.vision_end_token))
    replacements = {"image": iter(image_texts), "video": iter(video_texts)}
    return re.sub("|".join(alternatives),
                  lambda m: next(replacements["image" if m.group() == processor.image_token else "video"]), text)


def _metadata_object(meta: dict):
    from transformers.video_utils import VideoMetadata

    fields = {k: v for k, v in meta.items() if k in VideoMetadata.__dataclass_fields__}
    return VideoMetadata(**fields)


#: NFC (the Qwen tokenizers' normaliser) shortens UTF-8 text at most threefold (three Hangul jamo
#: of 3 bytes compose into one syllable of 3); the other normalisers keep or lengthen it
NORMALIZER_SHRINK = 3
#: a prompt's text may be at most this many UTF-8 bytes per token of the limit: far above any
#: language's average (English ~4, CJK ~2-3 bytes a token), so only degenerate text (long runs of
#: one character) meets the cap, and a long text is refused without tokenizing it
TEXT_BYTES_PER_TOKEN = 16


def text_bytes(prompt: Prompt) -> int:
    """UTF-8 bytes of the text in a prompt's messages (what the tokenizer will read, template aside)."""
    total = 0
    for message in prompt.messages:
        for part in message["content"] if isinstance(message["content"], list) else [message]:
            text = part.get("text") if part.get("type", "text") == "text" else None
            if isinstance(text, str):
                total += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return total


def max_token_bytes(tokenizer) -> int:
    """The most UTF-8 bytes one token can stand for: every token of a text covers at most this
    many of its bytes (byte-level vocabularies spell each byte as one character, of 1-2 bytes)."""
    return max(len(token.encode("utf-8", "surrogatepass")) for token in tokenizer.get_vocab())


def count_tokens(processor, prompt: Prompt, text: str | None = None) -> int:
    """Length of `prompt` in tokens as the processor will make it (raises ValueError, as the
    processor would, for an image it refuses, e.g. an aspect ratio over 200)."""
    text = text if text is not None else render(processor, prompt)
    extra = 0
    image_texts = []
    if prompt.images:
        for n in _image_tokens(processor, prompt.images):
            image_texts.append(processor.image_token)
            extra += n - 1
    video_texts = []
    for video in prompt.videos:
        groups, per_group = _video_grid(processor, video)
        video_texts.append(_video_text(processor, video, groups))
        extra += groups * (per_group - 1)
    return _n_tokens(processor.tokenizer, _expand(processor, text, image_texts, video_texts)) + extra


# ------------------------------------------------------------------ budgets and batches

@dataclass
class TokenBudget:
    """How prompts are packed into forward passes (Qwen-VL engine).

    max_batch_tokens: padded tokens per forward pass (rows x longest row); None = from the
    device (`default_batch_tokens`). A prompt longer than the budget runs alone.
    max_prompt_tokens: longer prompts are error lines before any forward pass; None = the
    model's context length.
    """

    max_batch_tokens: int | None = None
    max_prompt_tokens: int | None = None

    def __post_init__(self):
        for name in ("max_batch_tokens", "max_prompt_tokens"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number of tokens, got {value!r}")


def default_batch_tokens(module) -> int:
    """A padded-token budget that fits the device: half its free memory over a per-token
    estimate of the activations one forward pass keeps alive (bf16/fp32 hidden states,
    q/k/v and MLP intermediates, doubled for the vision tower). The out-of-memory split in
    the engine catches a wrong guess."""
    device = module.device
    if device.type != "cuda":
        return CPU_BATCH_TOKENS
    cfg = module.backbone.config
    text = getattr(cfg, "text_config", cfg)
    per_token = 2 * module.backbone.dtype.itemsize * (4 * text.hidden_size + 3 * text.intermediate_size)
    free, _ = torch.cuda.mem_get_info(device)
    return int(min(1 << 20, max(2048, free // 2 // per_token)))


def token_batches(lengths: list[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Indices into `lengths`, grouped into batches: shortest first, each batch at most
    `max_rows` prompts and `max_tokens` padded tokens (rows x its longest prompt)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:  # ascending, so prompt i is the longest of the batch it joins
        if current and (len(current) >= max_rows or (len(current) + 1) * lengths[i] > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def context_length(backbone) -> int | None:
    cfg = getattr(backbone, "config", None)
    return getattr(getattr(cfg, "text_config", cfg), "max_position_embeddings", None)
