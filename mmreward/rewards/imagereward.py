"""ImageReward (Xu et al., 2023): BLIP's image-grounded text encoder and an MLP on its [CLS] state.

As THUDM/ImageReward (PyPI `image-reward` 1.5) scores with `RM.load("ImageReward-v1.0")` and
`model.score(prompt, image)` / `model.inference_rank(prompt, images)`:
- the release (ImageReward/utils.py `load`): `ImageReward.pt`, the state dict of the whole
  `ImageReward` module, and `med_config.json`, both from the hub repo THUDM/ImageReward;
- the model (ImageReward/ImageReward.py, models/BLIP/): `BLIP_Pretrain(image_size=224,
  vit='large', med_config)`: a ViT (models/BLIP/vit.py: 16 px patches, pre-norm blocks with
  qkv bias, GELU, LayerNorm eps 1e-6, a final norm; 'large' is 1024 wide, 24 deep, 16 heads)
  and the med BERT (models/BLIP/med.py) whose every layer cross-attends to the 197 image
  tokens; here transformers' port of the same two (`BlipVisionModel`, `BlipTextModel`, the
  keys renamed). The ViT's size is read from the weights, its heads are width / 64 (BLIP's
  head width in 'base' and 'large') unless `vision_heads=` says otherwise;
- the text (ImageReward.py `score`): `bert-base-uncased` with `[DEC]` added as bos and `[ENC]` as
  an additional special token (models/BLIP/blip.py `init_tokenizer`), padded / truncated to 35
  tokens; the [CLS] id is kept (no `[ENC]` swap);
- the image (ImageReward.py `_transform(224)`): Resize(224, bicubic) of the image as its file
  holds it, CenterCrop(224), then RGB, ToTensor, Normalize(CLIP mean / std);
- the reward: `mlp` (the aesthetic predictor's Linear 768-1024-128-64-16-1, no activations) on
  the [CLS] row of the text encoder's last state, `(r - 0.16717362830052426) / 1.0333394966054072`.
`mmreward.integrations.best_of_n(model, prompt, images).ranks` gives `inference_rank`'s 1-based
ranks (ties keep the given order, where torch.sort's order is unspecified).

`imagereward@SOURCE` / `checkpoint=`: a directory holding `ImageReward.pt` and `med_config.json`
(and, optionally, the bert-base-uncased tokenizer files, else `tokenizer=` or the hub's), the
`.pt` itself (its `med_config.json` beside it), or a hub repo id serving both.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.errors import ConfigError, ModelNotFoundError
from mmreward.models.backbone import inference_mode
from mmreward.rewards.aesthetic import aesthetic_mlp
from mmreward.rewards.base import ImageReward, ImageRewardOptions, device_and_dtype, image_family
from mmreward.rewards.sources import hub_file, loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

HUB_REPO = "THUDM/ImageReward"
CHECKPOINT_FILE, MED_CONFIG = "ImageReward.pt", "med_config.json"
TOKENIZER = "bert-base-uncased"  # models/BLIP/blip.py init_tokenizer
BERT_VOCAB = 30522  # bert-base-uncased's vocab.txt; + [DEC], [ENC] = med_config's 30524
MAX_TOKENS = 35  # ImageReward.py score: padding="max_length", max_length=35
IMAGE_SIZE = 224  # ImageReward.py: BLIP_Pretrain(image_size=224), _transform(224)
MEAN, STD = 0.16717362830052426, 1.0333394966054072  # ImageReward.py ImageReward.__init__
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # ImageReward.py _transform Normalize
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_WIDTH = 64  # models/BLIP/blip.py create_vit: 768 / 12 heads ('base'), 1024 / 16 ('large')

# models/BLIP/vit.py VisionTransformer names -> transformers BlipVisionModel names
VISION_RENAMES = ((r"^cls_token$", "embeddings.class_embedding"), (r"^pos_embed$", "embeddings.position_embedding"),
                  (r"^patch_embed\.proj\.", "embeddings.patch_embedding."), (r"^blocks\.", "encoder.layers."),
                  (r"\.norm1\.", ".layer_norm1."), (r"\.norm2\.", ".layer_norm2."), (r"\.attn\.qkv\.", ".self_attn.qkv."),
                  (r"\.attn\.proj\.", ".self_attn.projection."), (r"^norm\.", "post_layernorm."))


def image_transform():
    """ImageReward.py `_transform(224)` (torchvision on the PIL image as its file holds it)."""
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(IMAGE_SIZE),
        lambda image: image.convert("RGB"),
        transforms.ToTensor(),
        transforms.Normalize(CLIP_MEAN, CLIP_STD),
    ])


class ImageRewardBlip(ImageReward):
    kind = "scalar"
    raw_images = True  # the official transform resizes the image in its own mode, then converts it

    def __init__(self, vision, text, mlp, tokenizer, name: str = "imagereward", source: str = "",
                 media=None):
        super().__init__(name, media)
        self.vision, self.text, self.mlp, self.tokenizer = vision, text, mlp, tokenizer
        self.transform = image_transform()
        self.details = {"checkpoint": source, "formula": f"(MLP(BLIP [CLS]) - {MEAN}) / {STD}"}

    @property
    def device(self):
        return next(self.mlp.parameters()).device

    @inference_mode
    def score_images(self, contexts: list, images: list) -> list[dict]:
        import torch

        device = self.device
        pixels = torch.stack([self.transform(im) for im in images]).to(device, next(self.vision.parameters()).dtype)
        tokens = self.tokenizer(contexts, padding="max_length", truncation=True, max_length=MAX_TOKENS,
                                return_tensors="pt").to(device)
        image_embeds = self.vision(pixel_values=pixels).last_hidden_state
        out = self.text(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask,
                        encoder_hidden_states=image_embeds,
                        encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=device),
                        is_decoder=False)
        rewards = (self.mlp.layers(out.last_hidden_state[:, 0, :].float()).squeeze(-1) - MEAN) / STD
        return [{"reward": r} for r in rewards.tolist()]


# ---------------------------------------------------------------------- loading


def split_release(state: dict) -> tuple[dict, dict, dict]:
    """ImageReward.pt -> (vision state in BlipVisionModel names, text state, mlp state); the
    unused BLIP projections and buffers are dropped."""
    vision, text, mlp = {}, {}, {}
    for key, value in state.items():
        if key.startswith("blip.visual_encoder."):
            key = key[len("blip.visual_encoder."):]
            for pattern, target in VISION_RENAMES:
                key = re.sub(pattern, target, key)
            vision[key] = value
        elif key.startswith("blip.text_encoder.") and not key.endswith("position_ids"):
            text[key[len("blip.text_encoder."):]] = value
        elif key.startswith("mlp."):
            mlp[key[len("mlp."):]] = value
    if not vision or not text or not mlp:
        raise ConfigError("not an ImageReward checkpoint: it needs blip.visual_encoder.*, blip.text_encoder.* and mlp.*")
    return vision, text, mlp


def vision_model(state: dict, heads: int | None):
    """BLIP's ViT as `BlipVisionModel`, its size from the weights (image size 224)."""
    from transformers import BlipVisionConfig, BlipVisionModel

    width, _, patch, _ = state["embeddings.patch_embedding.weight"].shape
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layers."))
    positions = state["embeddings.position_embedding"].shape[1]
    if positions != (IMAGE_SIZE // patch) ** 2 + 1:
        raise ConfigError(f"the ViT has {positions} positions; a {IMAGE_SIZE} px image in {patch} px patches needs "
                          f"{(IMAGE_SIZE // patch) ** 2 + 1}")
    heads = heads or max(1, width // HEAD_WIDTH)
    if width % heads:
        raise ConfigError(f"vision_heads={heads} does not divide the ViT's width {width}")
    config = BlipVisionConfig(hidden_size=width, intermediate_size=state["encoder.layers.0.mlp.fc1.weight"].shape[0],
                              num_hidden_layers=depth, num_attention_heads=heads, image_size=IMAGE_SIZE,
                              patch_size=patch, hidden_act="gelu", layer_norm_eps=1e-6)
    return _strict(BlipVisionModel(config), state, "blip.visual_encoder")


def text_model(state: dict, med_config: dict, vision_width: int):
    """The med BERT as `BlipTextModel` (cross-attention in every layer, read bidirectionally)."""
    from transformers import BlipTextConfig, BlipTextModel

    keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "max_position_embeddings", "hidden_act", "layer_norm_eps", "pad_token_id")
    config = BlipTextConfig(**{k: med_config[k] for k in keys if k in med_config}, encoder_hidden_size=vision_width,
                            is_decoder=True)  # is_decoder builds the cross-attention layers; the forward says no
    return _strict(BlipTextModel(config, add_pooling_layer=False), state, "blip.text_encoder")


def _strict(model, state: dict, prefix: str):
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ConfigError(f"{prefix} does not fit: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")
    return model.eval()


def tokenizer_for(source: str):
    """bert-base-uncased + `[DEC]` (bos) + `[ENC]` (models/BLIP/blip.py init_tokenizer)."""
    from transformers import BertTokenizer

    try:
        tokenizer = BertTokenizer.from_pretrained(source)
    except OSError as exc:
        tokenizer, why = None, str(exc)
    else:  # transformers 5 builds an empty vocabulary, without a word, from files it cannot find
        why = f"its vocabulary has {tokenizer.vocab_size} tokens, bert-base-uncased's {BERT_VOCAB}"
    if tokenizer is None or tokenizer.vocab_size != BERT_VOCAB:
        raise ConfigError(f"ImageReward tokenizer {source!r}: cannot load it ({why}); pass tokenizer=DIR (a local "
                          f"{TOKENIZER})")
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


def resolve_source(source: str | None, name: str) -> tuple[str, str, str | None]:
    """(ImageReward.pt, med_config.json, a tokenizer directory shipped beside them or None)."""
    if source is None:
        return hub_file(HUB_REPO, CHECKPOINT_FILE, name), hub_file(HUB_REPO, MED_CONFIG, name), None
    path = Path(os.path.expanduser(source))
    if path.is_file():
        ckpt, path = path, path.parent
    elif path.is_dir():
        ckpt = path / CHECKPOINT_FILE
    elif source.count("/") == 1 and not source.startswith((".", "/", "~")):
        return hub_file(source, CHECKPOINT_FILE, name), hub_file(source, MED_CONFIG, name), None
    else:
        raise ModelNotFoundError(f"{name}: no such checkpoint file or directory {source!r}")
    for needed in (ckpt, path / MED_CONFIG):
        if not needed.is_file():
            raise ModelNotFoundError(f"{name}: {needed.name} not found in {str(path)!r}")
    return str(ckpt), str(path / MED_CONFIG), str(path) if (path / "vocab.txt").is_file() else None


@dataclass
class ImageRewardBlipOptions(ImageRewardOptions):
    checkpoint: str | None = field(default=None, metadata={
        "help": f"a directory holding {CHECKPOINT_FILE} and {MED_CONFIG} (or imagereward@DIR; default: the "
                f"hub repo {HUB_REPO})"})
    tokenizer: str | None = field(default=None, metadata={
        "help": f"the BERT tokenizer (default: the checkpoint directory's vocab.txt, else {TOKENIZER})"})
    vision_heads: int | None = field(default=None, metadata={
        "help": f"attention heads of the ViT (default: its width / {HEAD_WIDTH}, as BLIP's create_vit)"})


def load(name_or_path: str, mode: str | None, options: ImageRewardBlipOptions) -> ImageRewardBlip:
    import torch

    name, inline = split_source(name_or_path)
    ckpt, med_path, shipped_tokenizer = resolve_source(pick_source(name, inline, options.checkpoint, "checkpoint",
                                                                   None), name)
    device, torch_dtype = device_and_dtype(options.device, options.dtype)  # the release runs in float32 (utils.py)
    with loading(name, ckpt):
        med_config = json.loads(Path(med_path).read_text())
        vision_state, text_state, mlp_state = split_release(
            torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True))
    vision = vision_model(vision_state, options.vision_heads)
    text = text_model(text_state, med_config, vision.config.hidden_size)
    mlp = aesthetic_mlp(mlp_state["layers.0.weight"].shape[1])
    mlp.load_state_dict(mlp_state)  # strict: the released layers.{0,2,4,6,7}
    if mlp.layers[0].in_features != text.config.hidden_size:
        raise ConfigError(f"{name}: the MLP takes {mlp.layers[0].in_features}-d features, the text encoder gives "
                          f"{text.config.hidden_size}-d ones")
    tok = tokenizer_for(os.path.expanduser(options.tokenizer) if options.tokenizer else shipped_tokenizer or TOKENIZER)
    return ImageRewardBlip(vision.to(device, torch_dtype), text.to(device, torch_dtype), mlp.eval().to(device),
                           tok, name, ckpt, MediaOptions.with_caps(options))


FAMILY = image_family("imagereward", "ImageReward", ImageRewardBlipOptions, ("imagereward",), catalog=(
    {"name": "imagereward", "backbone": "BLIP ViT-L + med BERT + MLP", "kind": "image reward: human preference "
     "(ImageReward)", "outputs": "rewards = normalised ImageReward score",
     "needs": "THUDM/ImageReward (ImageReward.pt, med_config.json) and bert-base-uncased, or imagereward@DIR",
     "use": "mmreward score --model imagereward --input IN --output OUT"},))
