"""The LAION aesthetic predictor (improved-aesthetic-predictor): an MLP on CLIP ViT-L/14 image embeddings.

As christophschuhmann/improved-aesthetic-predictor `simple_inference.py` runs it:
`clip.load("ViT-L/14")` image features, L2-normalised (`normalized`), into
`MLP(768)` whose `layers` are Linear(768, 1024), Dropout(0.2), Linear(1024, 128),
Dropout(0.2), Linear(128, 64), Dropout(0.1), Linear(64, 16), Linear(16, 1), with
no activation between them (the released `sac+logos+ava1-l14-linearMSE.pth`, a
state dict with keys `layers.{0,2,4,6,7}.{weight,bias}`). The score is on the
1-10 scale of the ratings it was fitted to. The CLIP default is the transformers
port `openai/clip-vit-large-patch14` (as Flow-GRPO's flow_grpo/aesthetic_scorer.py
uses); the head file is not on a model hub, so it is given by path:
`aesthetic@/path/sac+logos+ava1-l14-linearMSE.pth` (or `head=`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.errors import ConfigError
from mmreward.models.backbone import inference_mode
from mmreward.rewards.base import ImageReward, ImageRewardOptions, device_and_dtype, image_family
from mmreward.rewards.sources import loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

DEFAULT_CLIP = "openai/clip-vit-large-patch14"
HEAD_FILE = "sac+logos+ava1-l14-linearMSE.pth"


def aesthetic_mlp(input_size: int = 768):
    """The released head's exact layer structure (`MLP.layers`), so its state dict loads by name."""
    from torch import nn

    mlp = nn.Module()
    mlp.layers = nn.Sequential(
        nn.Linear(input_size, 1024), nn.Dropout(0.2),
        nn.Linear(1024, 128), nn.Dropout(0.2),
        nn.Linear(128, 64), nn.Dropout(0.1),
        nn.Linear(64, 16),
        nn.Linear(16, 1),
    )
    return mlp


def head_from_file(path: str):
    """The head in the released `.pth` (a strict load: a different layer structure is refused)."""
    from vision.open_clip_embed import load_state_dict

    state = load_state_dict(path)
    if "layers.0.weight" not in state:
        raise ValueError(f"{path!r} is not an aesthetic-predictor head (no 'layers.0.weight')")
    head = aesthetic_mlp(state["layers.0.weight"].shape[1])
    head.load_state_dict(state)
    return head.eval()


class Aesthetic(ImageReward):
    def __init__(self, embedder, head, name: str = "aesthetic", clip: str = DEFAULT_CLIP,
                 head_path: str = "", media=None):
        super().__init__(name, media)
        self.embedder, self.head = embedder, head.to(embedder.device)
        self.details = {"checkpoint": head_path, "clip": clip, "formula": "MLP(normalize(clip_image_embedding))",
                        "reads_prompt": False}  # an aesthetic score of the image alone

    @inference_mode
    def score_images(self, contexts: list, images: list) -> list[dict]:
        emb = self.embedder.embed_images(images, len(images))
        emb = emb / emb.norm(dim=-1, keepdim=True)
        rewards = self.head.layers(emb.to(next(self.head.parameters()).dtype)).squeeze(-1)
        return [{"reward": r} for r in rewards.tolist()]


@dataclass
class AestheticOptions(ImageRewardOptions):
    head: str | None = field(default=None, metadata={
        "help": f"the head file {HEAD_FILE} (or aesthetic@FILE); it is not on a model hub"})
    clip: str = field(default=DEFAULT_CLIP, metadata={"help": "the CLIP ViT-L/14 checkpoint (directory or hub id)"})


def load(name_or_path: str, mode: str | None, options: AestheticOptions) -> Aesthetic:
    base, inline = split_source(name_or_path)
    head_path = pick_source(base, inline, options.head, "head", None)
    if head_path is None:
        raise ConfigError(f"{base} needs its head file: {base}@/path/to/{HEAD_FILE} (from "
                          "github.com/christophschuhmann/improved-aesthetic-predictor)")
    device, torch_dtype = device_and_dtype(options.device, options.dtype)
    from vision.clip_embed import ClipEmbedder

    with loading(base, head_path):
        mlp = head_from_file(head_path)
    with loading(base, options.clip):
        embedder = ClipEmbedder.from_pretrained(options.clip, device=device, dtype=torch_dtype)
    width = embedder.model.config.projection_dim
    if width != mlp.layers[0].in_features:
        raise ConfigError(f"{base}: head {head_path!r} takes {mlp.layers[0].in_features}-d embeddings but CLIP "
                          f"{options.clip!r} gives {width}-d ones")
    return Aesthetic(embedder, mlp.to(torch_dtype), base, options.clip, head_path, MediaOptions.with_caps(options))


FAMILY = image_family("aesthetic", "aesthetic", AestheticOptions, ("aesthetic",), catalog=(
    {"name": "aesthetic", "backbone": "CLIP ViT-L/14 + LAION MLP", "kind": "image reward: aesthetic predictor",
     "outputs": "rewards = aesthetic score (1-10 scale)",
     "needs": "openai/clip-vit-large-patch14 and the head file sac+logos+ava1-l14-linearMSE.pth",
     "use": "mmreward score --model aesthetic@HEAD.pth --input IN --output OUT"},))
