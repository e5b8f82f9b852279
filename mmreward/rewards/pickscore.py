"""PickScore (Kirstain et al., 2023): `exp(logit_scale) * cos(image, prompt)` of a CLIP-H model.

As the yuvalkirstain/PickScore README ("Inference with PickScore") computes it: the
model `yuvalkirstain/PickScore_v1` (a transformers CLIPModel, ViT-H/14), the
processor of the checkpoint it was fine-tuned from,
`laion/CLIP-ViT-H-14-laion2B-s32B-b79K` (text padded, truncated to 77 tokens),
both embeddings L2-normalised, the dot product times `model.logit_scale.exp()`.
The reward is that raw score, not the softmax over
candidates the README also shows; Flow-GRPO trains on score / 26 (its
flow_grpo/pickscore_scorer.py), which is `combo:pickscore=0.03846` here.

`pickscore@DIR` loads a local copy; its processor is DIR's own when DIR has a
processor config, else the CLIP-H hub id (`processor=` overrides).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmreward.rewards.base import ImageReward, ImageRewardOptions, device_and_dtype, image_family
from mmreward.rewards.sources import loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

DEFAULT_MODEL = "yuvalkirstain/PickScore_v1"
DEFAULT_PROCESSOR = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


class PickScore(ImageReward):
    def __init__(self, embedder, name: str = "pickscore", source: str = DEFAULT_MODEL,
                 processor: str = DEFAULT_PROCESSOR, media=None):
        super().__init__(name, media)
        self.embedder = embedder
        self.details = {"checkpoint": source, "processor": processor,
                        "formula": "exp(logit_scale) * cos(image, prompt)"}

    def score_images(self, contexts: list, images: list) -> list[dict]:
        from vision.clip_embed import paired_cosine

        scores = self.embedder.logit_scale * paired_cosine(self.embedder, contexts, images, len(images))
        return [{"reward": r} for r in scores.tolist()]


def default_processor(source: str) -> str:
    """A directory's own processor when it has one (either file name transformers writes)."""
    own = any((Path(source) / f).is_file() for f in ("preprocessor_config.json", "processor_config.json"))
    return source if own else DEFAULT_PROCESSOR


@dataclass
class PickScoreOptions(ImageRewardOptions):
    model: str | None = field(default=None, metadata={
        "help": f"the PickScore checkpoint (directory or hub id; default {DEFAULT_MODEL}; or pickscore@SOURCE)"})
    processor: str | None = field(default=None, metadata={
        "help": f"its processor (default: the checkpoint directory's own, else {DEFAULT_PROCESSOR})"})


def load(name_or_path: str, mode: str | None, options: PickScoreOptions) -> PickScore:
    base, inline = split_source(name_or_path)
    source = pick_source(base, inline, options.model, "model", DEFAULT_MODEL)
    processor = options.processor if options.processor is not None else default_processor(source)
    device, torch_dtype = device_and_dtype(options.device, options.dtype)
    from vision.clip_embed import ClipEmbedder

    with loading(base, source):
        embedder = ClipEmbedder.from_pretrained(source, processor, device=device, dtype=torch_dtype)
    return PickScore(embedder, base, source, processor, MediaOptions.with_caps(options))


FAMILY = image_family("pickscore", "PickScore", PickScoreOptions, ("pickscore",), catalog=(
    {"name": "pickscore", "backbone": "CLIP-H (PickScore_v1)", "kind": "image reward: preference-tuned CLIP",
     "outputs": "rewards = exp(logit_scale) * cos",
     "needs": "yuvalkirstain/PickScore_v1 and the laion/CLIP-ViT-H-14-laion2B-s32B-b79K processor, or pickscore@DIR",
     "use": "mmreward score --model pickscore --input IN --output OUT"},))
