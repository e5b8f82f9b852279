"""Many prompts -> padded model batches, through the checkpoint's own processor.

`count_tokens` gives a prompt's length before any pixel is processed: the chat-template
text through the tokenizer, plus the visual tokens that the processor's own helpers derive
from each image's and clip's size (the grid sizes it would compute, the helpers vLLM uses).
`token_batches` then packs prompts sorted by length under a budget of padded tokens, so a
long prompt never drags a batch of short ones to its length.
"""
from __future__ import annotations

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
            texts: list[str] | None = None):
    """Tokenise and pad `prompts`; images and videos are expanded to their pad tokens.

    `extra_text[i]` is appended after prompt i's rendered text (used to place an
    answer token at a known position for training). `texts` are the rendered prompts
    when the caller has them already (`count_tokens` renders them too).
    """
    texts = list(texts) if texts is not None else [render(processor, p) for p in prompts]
    if extra_text is not None:
        texts = [t + e for t, e in zip(texts, extra_text)]
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
    batch = processor(text=texts, padding=True, return_tensors="pt", **kwargs)
    return batch.to(device) if device is not None else batch


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


def _video_tokens(processor, video) -> int:
    """Tokens that replace one video placeholder: the processor's own replacement text
    (Qwen3-VL adds `<t seconds>` labels per frame group) for the grid it would compute."""
    t, h, w = _frames_thw(_video_frames(video))
    vp = processor.video_processor
    patches = vp.get_num_of_video_patches(t, h, w, {})
    grid_t = -(-t // vp.temporal_patch_size)
    # only the grid's product and its first entry matter to the replacement text
    inputs = {"video_grid_thw": torch.tensor([[grid_t, patches // grid_t, 1]]),
              "video_metadata": [_metadata_object(_video_metadata(video))]}
    return _n_tokens(processor.tokenizer, processor.replace_video_token(inputs, 0), add_special_tokens=False)


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
    n = _n_tokens(processor.tokenizer, text)
    if prompt.images:
        sizes = [_image_hw(im) for im in prompt.images]
        n += sum(processor._get_num_multimodal_tokens(image_sizes=sizes).num_image_tokens) - len(sizes)
    for video in prompt.videos:
        n += _video_tokens(processor, video) - 1
    return n


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
