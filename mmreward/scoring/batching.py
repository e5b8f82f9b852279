"""Many prompts -> one padded model batch, through the checkpoint's own processor."""
from __future__ import annotations

from mmreward.scoring.prompts import Prompt


def render(processor, prompt: Prompt) -> str:
    return processor.apply_chat_template(
        prompt.messages, tokenize=False, add_generation_prompt=prompt.add_generation_prompt
    )


def collate(processor, prompts: list[Prompt], device=None, extra_text: list[str] | None = None):
    """Tokenise and pad `prompts`; images and videos are expanded to their pad tokens.

    `extra_text[i]` is appended after prompt i's rendered text (used to place an
    answer token at a known position for training).
    """
    texts = [render(processor, p) for p in prompts]
    if extra_text is not None:
        texts = [t + e for t, e in zip(texts, extra_text)]
    images = [im for p in prompts for im in p.images]
    videos = [v for p in prompts for v in p.videos]
    kwargs = {}
    if images:
        kwargs["images"] = images
    if videos:
        kwargs["videos"] = [getattr(v, "frames", v) for v in videos]
        # The frames are already the uniformly sampled `video_frames` of each clip (mmreward.scoring.media).
        # Qwen3-VL's video processor samples again by default (2 fps of an assumed 24 fps clip,
        # at least 4 frames), which would silently drop most of them.
        kwargs["do_sample_frames"] = False
        if all(hasattr(v, "metadata") for v in videos):
            # without it the processor assumes 24 fps frame-by-frame: Qwen2.5-VL's temporal
            # positions and Qwen3-VL's "<t seconds>" labels would be wrong
            kwargs["video_metadata"] = [v.metadata() for v in videos]
    batch = processor(text=texts, padding=True, return_tensors="pt", **kwargs)
    return batch.to(device) if device is not None else batch
