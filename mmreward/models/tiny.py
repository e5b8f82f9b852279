"""The offline `tiny` preset: a randomly initialised Qwen2.5-VL of ~10M parameters.

Everything except the weights is real: the Qwen2 tokenizer (ids match the
released checkpoints), the Qwen2.5-VL image/video processor settings and chat
template, and the model class. So every code path that runs on `tiny` runs
unchanged on `Qwen/Qwen2.5-VL-7B-Instruct`; only the numbers are noise.
"""
from __future__ import annotations

from pathlib import Path

from vision.checkpoint_cache import cached_checkpoint

TINY_NAME = "tiny"
TINY_VERSION = "qwen2.5-vl-tiny-v1"

# Real Qwen2.5-VL preprocessing: 14 px patches, 2x2 merge, CLIP mean/std, pixel bounds.
IMAGE_MIN_PIXELS = 4 * 28 * 28
IMAGE_MAX_PIXELS = 16384 * 28 * 28
VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28


def tiny_config(vocab_size: int = 151936):
    from transformers import Qwen2_5_VLConfig

    head_dim = 16
    return Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=vocab_size,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=head_dim,
            max_position_embeddings=32768,
            rms_norm_eps=1e-6,
            # M-RoPE splits head_dim/2 frequencies into temporal/height/width parts,
            # scaled down from the real [16, 24, 24] of head_dim 128.
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
            bos_token_id=151643,
            eos_token_id=151645,
            pad_token_id=151643,
            tie_word_embeddings=True,
        ),
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
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=True,
    )


def tiny_processor():
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    from mmreward.models.chat_template import QWEN2_VL_CHAT_TEMPLATE
    from mmreward.models.tokenizer import build_qwen2_tokenizer

    clip_mean = [0.48145466, 0.4578275, 0.40821073]
    clip_std = [0.26862954, 0.26130258, 0.27577711]
    image_processor = Qwen2VLImageProcessor(
        size={"shortest_edge": IMAGE_MIN_PIXELS, "longest_edge": IMAGE_MAX_PIXELS},
        patch_size=14, temporal_patch_size=2, merge_size=2,
        image_mean=clip_mean, image_std=clip_std,
    )
    video_processor = Qwen2VLVideoProcessor(
        size={"shortest_edge": VIDEO_MIN_PIXELS, "longest_edge": VIDEO_MAX_PIXELS},
        patch_size=14, temporal_patch_size=2, merge_size=2,
        image_mean=clip_mean, image_std=clip_std, do_sample_frames=False,
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=build_qwen2_tokenizer(),
        video_processor=video_processor,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def build_tiny(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny checkpoint (config, safetensors, processor) to `out_dir`."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(tiny_config())
    model.generation_config.pad_token_id = 151643
    model.generation_config.eos_token_id = [151645, 151643]
    model.save_pretrained(out_dir)
    tiny_processor().save_pretrained(out_dir)
    return out_dir


def tiny_path() -> Path:
    """The cached tiny checkpoint, built on first use (no network)."""
    return cached_checkpoint(TINY_VERSION, build_tiny)
