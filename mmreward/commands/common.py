"""Arguments shared by the commands that load a reward model."""
from __future__ import annotations

import argparse


def add_model_arguments(p: argparse.ArgumentParser, default_mode: str | None = None) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="tiny",
                   help="'tiny' (offline, random weights), a checkpoint directory or a hub id (default: tiny)")
    g.add_argument("--mode", choices=["scalar", "generative"], default=default_mode,
                   help="scalar: MLP reward head; generative: P('yes') (default: the checkpoint's, else scalar)")
    g.add_argument("--dtype", default=None, help="bfloat16 | float16 | float32 (default: bf16 on GPU, fp32 on CPU)")
    g.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available; "
                   "under accelerate launch each process uses its own device)")
    g.add_argument("--attn-implementation", default=None, help="sdpa | flash_attention_2 | eager")
    g.add_argument("--min-pixels", type=int, default=None, help="image resize lower bound in pixels")
    g.add_argument("--max-pixels", type=int, default=None, help="image resize upper bound in pixels")
    g.add_argument("--video-max-pixels", type=int, default=None,
                   help="video pixel bound, as the checkpoint's video processor reads it: "
                        "per frame for Qwen2/2.5-VL, for the whole clip (frames x H x W) for Qwen3-VL")
    g.add_argument("--video-frames", type=int, default=None, help="frames sampled uniformly per video (default 8)")


def load_from_args(args, device: str | None = None, **extra):
    import mmreward

    return mmreward.load(
        args.model, args.mode, dtype=args.dtype, device=device or args.device,
        attn_implementation=args.attn_implementation, min_pixels=args.min_pixels,
        max_pixels=args.max_pixels, video_max_pixels=args.video_max_pixels,
        video_frames=args.video_frames, **extra,
    )
