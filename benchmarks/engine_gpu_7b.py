"""HF vs vLLM engine at 7B size on a GPU, without downloading weights.

    python benchmarks/engine_gpu_7b.py [--out /tmp/qwen2.5-vl-7b-random] [engine_throughput options]

Builds a random-weight checkpoint with the architecture of Qwen/Qwen2.5-VL-7B-Instruct (its
config.json values below; the real Qwen2 tokenizer and Qwen2.5-VL processor settings of
`mmreward.models.tiny`), bf16, then runs `benchmarks/engine_throughput.py` on it with the
official UnifiedReward answer limit (512 tokens) unless told otherwise. Random weights write
random text: the timings are the engines', the texts are compared as on the tiny model. Needs a
CUDA GPU with ~40 GB free (the HF weights, 15 GB, beside vLLM's share) and `pip install vllm`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Qwen/Qwen2.5-VL-7B-Instruct config.json (transformers 4.5x layout; text fields at the top level there)
TEXT = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
            num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=128000, rms_norm_eps=1e-6,
            bos_token_id=151643, eos_token_id=151645, tie_word_embeddings=False,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]})
VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
              patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
              fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2, in_channels=3, hidden_act="silu")
SPECIAL = dict(image_token_id=151655, video_token_id=151656, vision_start_token_id=151652,
               vision_end_token_id=151653, tie_word_embeddings=False)


def build(out: Path) -> Path:
    """The random-weight 7B checkpoint in `out` (built on the GPU in bf16, N(0, 0.02) weights)."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from mmreward.models.tiny import tiny_processor

    if (out / "config.json").is_file():
        return out
    config = Qwen2_5_VLConfig(text_config=TEXT, vision_config=VISION, **SPECIAL)
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    model = model.to_empty(device="cuda").to(torch.bfloat16)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02)
    model.generation_config.pad_token_id = 151643
    model.generation_config.eos_token_id = [151645, 151643]
    model.save_pretrained(out)
    tiny_processor().save_pretrained(out)
    del model
    torch.cuda.empty_cache()
    return out


def main() -> None:
    import engine_throughput  # noqa: the benchmark beside this file

    argv = sys.argv[1:]
    out = Path("/tmp/qwen2.5-vl-7b-random")
    if "--out" in argv:
        i = argv.index("--out")
        out = Path(argv[i + 1])
        del argv[i:i + 2]
    path = build(out)
    if "--max-new-tokens" not in argv:
        argv += ["--max-new-tokens", "512"]
    sys.argv = [sys.argv[0], "--model", str(path), *argv]
    engine_throughput.main()


if __name__ == "__main__":
    main()
