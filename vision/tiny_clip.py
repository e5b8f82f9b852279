"""The offline `tiny` CLIP: real tokenizer and preprocessing, random weights.

The tokenizer is built from the CLIP BPE merges that ship inside `open_clip_torch`
(`bpe_simple_vocab_16e6.txt.gz`, the file OpenAI released with CLIP), so token
ids are those of every released CLIP checkpoint ("a photo of a cat" ->
[49406, 320, 1125, 539, 320, 2368, 49407]). The image processor uses the real
CLIP settings (shortest edge 224, bicubic, centre crop 224, OpenAI mean/std).
Only the transformer weights are small and random, so every code path that
runs on `tiny` runs unchanged on `openai/clip-vit-base-patch32`.
"""
from __future__ import annotations

import gzip
from pathlib import Path

from vision.checkpoint_cache import cache_dir, cached_checkpoint  # noqa: F401 (cache_dir re-exported)

TINY_CLIP_NAME = "tiny"
# bump when the architecture or the build changes: the cache key is this name
TINY_CLIP_VERSION = "clip-tiny-v1"

CLIP_CONTEXT_LENGTH = 77
CLIP_IMAGE_SIZE = 224
BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"


def clip_bpe_path() -> Path:
    try:
        import open_clip
    except ImportError as e:
        raise ImportError("the tiny CLIP needs `open_clip_torch` for its bundled CLIP BPE vocabulary: "
                          "pip install 'mmreward[clip]'") from e
    path = Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"CLIP BPE vocabulary not found at {path} (broken open_clip_torch install?)")
    return path


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable unicode table: the 256 base symbols of byte-level BPE.

    The insertion order matters, it fixes token ids 0..255: printable bytes first
    (mapped to themselves), then the others, mapped to code points 256, 257, ...
    """
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    table = {byte: chr(byte) for byte in printable}
    others = [byte for byte in range(256) if byte not in table]
    table.update({byte: chr(256 + i) for i, byte in enumerate(others)})
    return table


def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's 49,408-token vocabulary in the original order: bytes, bytes+</w>, merges, specials."""
    with gzip.open(clip_bpe_path(), "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    # line 0 is a header; CLIP uses the first 49152 - 256 - 2 merges
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS_TOKEN, EOS_TOKEN]
    return {t: i for i, t in enumerate(tokens)}, merges


def build_clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_CONTEXT_LENGTH)


def clip_image_processor():
    """The preprocessing of the released OpenAI CLIP ViT checkpoints."""
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from transformers import CLIPImageProcessor
    from transformers.image_utils import PILImageResampling

    return CLIPImageProcessor(
        do_resize=True, size={"shortest_edge": CLIP_IMAGE_SIZE}, resample=PILImageResampling.BICUBIC,
        do_center_crop=True, crop_size={"height": CLIP_IMAGE_SIZE, "width": CLIP_IMAGE_SIZE},
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=list(OPENAI_DATASET_MEAN), image_std=list(OPENAI_DATASET_STD), do_convert_rgb=True,
    )


def tiny_clip_config():
    from transformers import CLIPConfig

    tokenizer_ids = dict(bos_token_id=49406, eos_token_id=49407, pad_token_id=1)  # as in openai/clip-*
    text = dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=CLIP_CONTEXT_LENGTH, projection_dim=32,
                **tokenizer_ids)
    vision = dict(image_size=CLIP_IMAGE_SIZE, patch_size=32, hidden_size=32, intermediate_size=64,
                  num_hidden_layers=2, num_attention_heads=2, projection_dim=32)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)


def build_tiny_clip(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the tiny CLIP (config, safetensors, tokenizer, image processor) to `out_dir`."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    out_dir = Path(out_dir)
    torch.manual_seed(seed)  # same seed -> same weights, so the cache is reproducible
    model = CLIPModel(tiny_clip_config()).eval()
    model.save_pretrained(out_dir)
    processor = CLIPProcessor(image_processor=clip_image_processor(), tokenizer=build_clip_tokenizer())
    processor.save_pretrained(out_dir)
    return out_dir


def tiny_clip_path() -> Path:
    """The cached tiny CLIP checkpoint, built on first use (no network)."""
    return cached_checkpoint(TINY_CLIP_VERSION, build_tiny_clip)
