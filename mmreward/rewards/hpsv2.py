"""HPSv2 / HPSv2.1 (Wu et al., 2023): cosine of an open_clip ViT-H-14 fine-tuned on human preferences.

As tgxs002/HPSv2 `hpsv2/img_score.py` scores: `create_model_and_transforms('ViT-H-14',
..., light_augmentation=True)`, the release checkpoint loaded with
`model.load_state_dict(torch.load(cp)['state_dict'])`, the prompt tokenized by
`get_tokenizer('ViT-H-14')` (CLIP BPE, 77 tokens), and the score
`diag(image_features @ text_features.T)` where the model's forward returns both
features L2-normalised: the plain cosine (no logit scale).
Preprocessing: `vision.open_clip_embed.resize_longest_and_pad`.

v2.0 and v2.1 are one architecture and one scorer with different weights:
`hpsv2/utils.py` `hps_version_map` = {"v2.0": "HPS_v2_compressed.pt",
"v2.1": "HPS_v2.1_compressed.pt"}, both in the hub repo `xswu/HPSv2`.
`hpsv2@FILE` / `checkpoint=FILE` loads a local copy; `arch=` takes another
open_clip architecture (a name or a model-config .json), for tests and variants.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.errors import require
from mmreward.rewards.base import ImageReward, ImageRewardOptions, device_and_dtype, image_family
from mmreward.rewards.sources import hub_file, loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

HUB_REPO = "xswu/HPSv2"
CHECKPOINT_FILE = {"hpsv2": "HPS_v2_compressed.pt", "hpsv2.1": "HPS_v2.1_compressed.pt"}
ARCH = "ViT-H-14"


class HpsV2(ImageReward):
    def __init__(self, embedder, name: str = "hpsv2", source: str = "", arch: str = ARCH,
                 media=None):
        super().__init__(name, media)
        self.embedder = embedder
        self.details = {"checkpoint": source, "arch": str(arch), "formula": "cos(image, prompt)"}

    def score_images(self, contexts: list, images: list) -> list[dict]:
        from vision.clip_embed import paired_cosine

        return [{"reward": r} for r in paired_cosine(self.embedder, contexts, images, len(images)).tolist()]


@dataclass
class HpsV2Options(ImageRewardOptions):
    checkpoint: str | None = field(default=None, metadata={
        "help": "the release checkpoint file (default: HPS_v2[.1]_compressed.pt from the hub repo "
                f"{HUB_REPO}; or hpsv2@FILE)"})
    arch: str = field(default=ARCH, metadata={"help": "the open_clip architecture: a name or a model-config .json"})


def load(name_or_path: str, mode: str | None, options: HpsV2Options) -> HpsV2:
    base, inline = split_source(name_or_path)
    require("open_clip", "clip", base)
    source = pick_source(base, inline, options.checkpoint, "checkpoint", None)
    if source is None:
        source = hub_file(HUB_REPO, CHECKPOINT_FILE[base], base)
    device, torch_dtype = device_and_dtype(options.device, options.dtype)
    from vision.open_clip_embed import OpenClipEmbedder

    with loading(base, source):
        embedder = OpenClipEmbedder.from_checkpoint(source, options.arch, device=device, dtype=torch_dtype)
    return HpsV2(embedder, base, source, options.arch, MediaOptions.with_caps(options))


FAMILY = image_family("hpsv2", "HPSv2", HpsV2Options, tuple(CHECKPOINT_FILE), catalog=tuple(
    {"name": name, "backbone": "open_clip ViT-H-14", "kind": "image reward: preference-tuned CLIP",
     "outputs": "rewards = cos", "needs": f"extra [clip]; {file} from xswu/HPSv2, or {name}@FILE",
     "use": f"mmreward score --model {name}@{file} --input IN --output OUT"}
    for name, file in CHECKPOINT_FILE.items()))
