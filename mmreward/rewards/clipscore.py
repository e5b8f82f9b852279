"""CLIPScore (Hessel et al., EMNLP 2021): `w * max(cos(image, text), 0)` with w = 2.5.

As jmhessel/clipscore `clipscore.py` computes it (`get_clip_score`): image and
caption embeddings of CLIP ViT-B/32, each L2-normalised, the caption prefixed with
"A photo depicts " (`CLIPCapDataset(prefix='A photo depicts')`), the dot product
clipped at 0 and scaled by w = 2.5. The default checkpoint is that model's
transformers port, `openai/clip-vit-base-patch32` (same weights and preprocessing:
bicubic resize of the short side to 224, centre crop, OpenAI mean/std); any
CLIP/SigLIP checkpoint may be given (`clipscore@DIR_OR_HUB_ID`, `clip=`).
`prefix=""` scores the bare prompt.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.rewards.base import ImageReward, ImageRewardOptions, device_and_dtype, image_family
from mmreward.rewards.sources import loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

DEFAULT_CLIP = "openai/clip-vit-base-patch32"
OFFICIAL_PREFIX = "A photo depicts"  # jmhessel/clipscore clipscore.py, CLIPCapDataset
OFFICIAL_W = 2.5


def caption(prompt: str, prefix: str) -> str:
    """The official code appends a space to the prefix unless it ends with one."""
    if not prefix:
        return prompt
    return (prefix if prefix.endswith(" ") else prefix + " ") + prompt


class ClipScore(ImageReward):
    def __init__(self, embedder, name: str = "clipscore", prefix: str = OFFICIAL_PREFIX, w: float = OFFICIAL_W,
                 source: str = DEFAULT_CLIP, media=None):
        super().__init__(name, media)
        self.embedder, self.prefix, self.w = embedder, prefix, float(w)
        self.details = {"checkpoint": source, "formula": f"{self.w} * max(cos(image, text), 0)",
                        "prefix": prefix}

    def score_images(self, contexts: list, images: list) -> list[dict]:
        from vision.clip_embed import paired_cosine

        cos = paired_cosine(self.embedder, [caption(p, self.prefix) for p in contexts], images, len(images))
        return [{"reward": r} for r in (self.w * cos.clamp(min=0)).tolist()]


@dataclass
class ClipScoreOptions(ImageRewardOptions):
    clip: str | None = field(default=None, metadata={
        "help": f"the CLIP/SigLIP checkpoint (directory or hub id; default {DEFAULT_CLIP}; or clipscore@SOURCE)"})
    prefix: str = field(default=OFFICIAL_PREFIX, metadata={"help": "put before the prompt ('' for the bare prompt)"})
    w: float = field(default=OFFICIAL_W, metadata={"help": "the scale w of w * max(cos, 0)"})


def load(name_or_path: str, mode: str | None, options: ClipScoreOptions) -> ClipScore:
    base, inline = split_source(name_or_path)
    source = pick_source(base, inline, options.clip, "clip", DEFAULT_CLIP)
    device, torch_dtype = device_and_dtype(options.device, options.dtype)
    from vision.clip_embed import ClipEmbedder

    with loading(base, source):
        embedder = ClipEmbedder.from_pretrained(source, device=device, dtype=torch_dtype)
    return ClipScore(embedder, base, options.prefix, options.w, source, MediaOptions.with_caps(options))


FAMILY = image_family("clipscore", "CLIPScore", ClipScoreOptions, ("clipscore",), catalog=(
    {"name": "clipscore", "backbone": "CLIP ViT-B/32 (any CLIP/SigLIP)", "kind": "image reward: CLIP cosine",
     "outputs": "rewards = 2.5 * max(cos, 0)", "needs": "openai/clip-vit-base-patch32, or clipscore@DIR",
     "use": "mmreward score --model clipscore --input IN --output OUT"},))
