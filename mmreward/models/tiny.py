"""The offline `tiny` preset: a randomly initialised Qwen2.5-VL of ~10M parameters.

Everything except the weights is real: the Qwen2 tokenizer (ids match the
released checkpoints), the Qwen2.5-VL image/video processor settings and chat
template, and the model class. So every code path that runs on `tiny` runs
unchanged on `Qwen/Qwen2.5-VL-7B-Instruct`; only the numbers are noise.
"""
from __future__ import annotations

import functools
from pathlib import Path

from vision.checkpoint_cache import cached_checkpoint

TINY_NAME = "tiny"
TINY_VERSION = "qwen2.5-vl-tiny-v1"
# The same model at head_dim 64, which vLLM's CPU attention accepts (it refuses the tiny's 16)
TINY_HD64_NAME = "tiny-hd64"
TINY_HD64_VERSION = "qwen2.5-vl-tiny-hd64-v1"
TINY_NAMES = (TINY_NAME, TINY_HD64_NAME)

# Real Qwen2.5-VL preprocessing: 14 px patches, 2x2 merge, CLIP mean/std, pixel bounds.
IMAGE_MIN_PIXELS = 4 * 28 * 28
IMAGE_MAX_PIXELS = 16384 * 28 * 28
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28

# The tiny decoder every family shares: 2 layers, hidden 64, head_dim 16
# (M-RoPE section [2, 3, 3] = head_dim / 2).
FAMILY_TEXT = dict(
    vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6,
    bos_token_id=151643, eos_token_id=151645, pad_token_id=151643, tie_word_embeddings=True,
)
FAMILY_SPECIAL_IDS = dict(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
                          vision_end_token_id=151653, tie_word_embeddings=True)
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def tiny_config(vocab_size: int = 151936):
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        # M-RoPE splits head_dim/2 frequencies into temporal/height/width parts,
        # scaled down from the real [16, 24, 24] of head_dim 128.
        text_config=dict(FAMILY_TEXT, vocab_size=vocab_size, head_dim=16, rope_parameters={
            "rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}),
        vision_config=dict(
            depth=2,
            hidden_size=32,
            intermediate_size=64,
            num_heads=2,
            out_hidden_size=64,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=112,
            fullatt_block_indexes=[1],
            in_channels=3,
        ),
        **FAMILY_SPECIAL_IDS,
    )


def tiny_hd64_config(vocab_size: int = 151936):
    """`tiny_config` with a decoder vLLM's CPU attention runs: hidden 128, 2 heads of 64, 1 KV
    head (head_dim 64: M-RoPE section [8, 12, 12] = head_dim / 2, the real [16, 24, 24] halved),
    the vision merger projecting to 128."""
    config = tiny_config(vocab_size)
    text = config.text_config
    text.hidden_size, text.intermediate_size = 128, 256
    text.num_attention_heads, text.num_key_value_heads, text.head_dim = 2, 1, 64
    text.rope_parameters = {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [8, 12, 12]}
    config.vision_config.out_hidden_size = 128
    return config


def tiny_processor():
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE

    image_processor = Qwen2VLImageProcessor(
        size={"shortest_edge": IMAGE_MIN_PIXELS, "longest_edge": IMAGE_MAX_PIXELS},
        patch_size=14, temporal_patch_size=2, merge_size=2,
        image_mean=CLIP_MEAN, image_std=CLIP_STD,
    )
    video_processor = Qwen2VLVideoProcessor(
        size={"shortest_edge": VIDEO_MIN_PIXELS, "longest_edge": VIDEO_MAX_PIXELS},
        patch_size=14, temporal_patch_size=2, merge_size=2,
        image_mean=CLIP_MEAN, image_std=CLIP_STD, do_sample_frames=False,
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=qwen2_tokenizer(),
        video_processor=video_processor,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def build_tiny(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny checkpoint (config, safetensors, processor) to `out_dir`."""
    return build_family_checkpoint("qwen2_5_vl", Path(out_dir), seed)


def tiny_path() -> Path:
    """The cached tiny checkpoint, built on first use (no network)."""
    return cached_checkpoint(TINY_VERSION, build_tiny)


def build_tiny_hd64(out_dir: str | Path, seed: int = 0) -> Path:
    return build_family_checkpoint("qwen2_5_vl_hd64", Path(out_dir), seed)


def tiny_hd64_path() -> Path:
    """The cached `tiny-hd64` checkpoint (the engine tests' model), built on first use."""
    return cached_checkpoint(TINY_HD64_VERSION, build_tiny_hd64)


def tiny_checkpoint(name: str) -> Path:
    """`tiny` or `tiny-hd64` -> its cached checkpoint directory."""
    return {TINY_NAME: tiny_path, TINY_HD64_NAME: tiny_hd64_path}[name]()


# ---------------------------------------------------------------- the other Qwen-VL families
# Tiny random-weight Qwen2-VL and Qwen3-VL checkpoints with the released processor settings,
# for tests of code that a family or a released model's layout decides (mmreward.presets).


@functools.cache
def _qwen2_tokenizer():
    """The real Qwen2 tokenizer, built once per process (building it from the BPE ranks takes seconds)."""
    from mmreward.models.tokenizer import build_qwen2_tokenizer

    return build_qwen2_tokenizer()


def qwen2_tokenizer():
    """A fresh copy of the real Qwen2 tokenizer (callers may add tokens to it)."""
    import copy

    return copy.deepcopy(_qwen2_tokenizer())


def qwen2_vl_config():
    from transformers import Qwen2VLConfig

    return Qwen2VLConfig(
        text_config=dict(FAMILY_TEXT, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                       "mrope_section": [2, 3, 3]}),
        vision_config=dict(depth=1, embed_dim=32, hidden_size=64, mlp_ratio=2, num_heads=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3),
        **FAMILY_SPECIAL_IDS,
    )


def qwen3_vl_config():
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(
        text_config=dict(FAMILY_TEXT, head_dim=16, rope_parameters={
            "rope_type": "default", "rope_theta": 5e6, "mrope_section": [2, 3, 3], "mrope_interleaved": True}),
        # deepstack feeds vision layer 0's features into the decoder too, as the real (8, 16, 24) do
        vision_config=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2,
                           num_position_embeddings=64, deepstack_visual_indexes=[0]),
        **FAMILY_SPECIAL_IDS,
    )


def qwen2_vl_processor():
    """Qwen2-VL-*-Instruct preprocessing: 14 px patches, 2x2 merge, CLIP mean/std, per-frame video bounds."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE

    common = dict(patch_size=14, temporal_patch_size=2, merge_size=2, image_mean=CLIP_MEAN, image_std=CLIP_STD)
    return Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            size={"shortest_edge": IMAGE_MIN_PIXELS, "longest_edge": IMAGE_MAX_PIXELS}, **common),
        video_processor=Qwen2VLVideoProcessor(
            size={"shortest_edge": VIDEO_MIN_PIXELS, "longest_edge": VIDEO_MAX_PIXELS}, **common),
        tokenizer=qwen2_tokenizer(),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def qwen3_vl_processor():
    """Qwen3-VL-*-Instruct preprocessing: 16 px patches, 2x2 merge, mean/std 0.5, per-clip video bounds."""
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE

    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size={"shortest_edge": 65536, "longest_edge": 16777216}, **common),
        # the released video processor samples 2 fps itself (do_sample_frames defaults to True)
        video_processor=Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824}, **common),
        tokenizer=qwen2_tokenizer(),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


#: model_type -> (transformers class name, config builder, processor builder)
FAMILIES = {
    "qwen2_vl": ("Qwen2VLForConditionalGeneration", qwen2_vl_config, qwen2_vl_processor),
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration", tiny_config, tiny_processor),
    "qwen3_vl": ("Qwen3VLForConditionalGeneration", qwen3_vl_config, qwen3_vl_processor),
}


def build_family_model(family: str, seed: int = 0):
    """(random-weight model, processor) of the tiny `family` checkpoint (or of `tiny-hd64`)."""
    import torch
    import transformers

    class_name, config_fn, processor_fn = FAMILIES.get(family) or VARIANTS[family]
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config_fn())
    model.generation_config.pad_token_id = 151643
    model.generation_config.eos_token_id = [151645, 151643]
    return model, processor_fn()


#: other tiny checkpoints, not a family of their own (the family tests leave them out)
VARIANTS = {"qwen2_5_vl_hd64": ("Qwen2_5_VLForConditionalGeneration", tiny_hd64_config, tiny_processor)}


def build_family_checkpoint(family: str, out_dir, seed: int = 0):
    """Write a tiny random-weight checkpoint of `family` (config, safetensors, processor) to `out_dir`."""
    model, processor = build_family_model(family, seed)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir
