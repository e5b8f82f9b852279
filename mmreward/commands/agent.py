"""`mmreward agent`: run the thinking-with-image video judge (VR-Thinker) on one pair of videos."""
from __future__ import annotations

import json
import sys


def register(sub, name: str, help: str):
    p = sub.add_parser(name, help=help, description=(
        "The model sees a few uniformly sampled frames of each video, may call select_frames to look "
        "at others, and answers per dimension and overall (1 = first video better, 2 = second, 0 = tie). "
        "Prints the trace: every turn, the frames selected, the parsed judgments, a format-valid flag."))
    p.add_argument("--model", default="tiny", help="'tiny', a checkpoint directory or a hub id (default tiny)")
    p.add_argument("--prompt", required=True, help="the text prompt the videos were generated from")
    p.add_argument("--videos", nargs="+", required=True, help="video files (usually two: A B)")
    p.add_argument("--media-root", default=None,
                   help="directory video paths are relative to; nothing outside it is read")
    g = p.add_argument_group("agent (defaults: AgentConfig)")
    for flag, kind, text in (
        ("--max-turns", int, "T, assistant turns (3)"), ("--memory-window", int, "p, tool results keeping images (1)"),
        ("--initial-frames", int, "frames per video shown first (4)"),
        ("--candidate-frames", int, "N, frames the tool can address (32)"),
        ("--max-frames-per-call", int, "K (8)"), ("--max-new-tokens", int, "per turn (128)"),
        ("--temperature", float, "0 = greedy (0)"), ("--top-p", float, "nucleus sampling (1.0)"),
        ("--frame-max-pixels", int, "frames shrunk under this many pixels (50176)"),
    ):
        g.add_argument(flag, type=kind, default=None, help=text)
    p.add_argument("--seed", type=int, default=0, help="sampling seed (with --temperature > 0)")
    p.add_argument("--dtype", default=None, help="bfloat16 | float16 | float32")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument("--min-pixels", type=int, default=None, help="processor image resize lower bound")
    p.add_argument("--max-pixels", type=int, default=None, help="processor image resize upper bound")
    p.add_argument("--json", action="store_true", help="print the trace as one JSON object")
    p.set_defaults(func=run)


_CONFIG_FLAGS = ("max_turns", "memory_window", "initial_frames", "candidate_frames", "max_frames_per_call",
                 "max_new_tokens", "temperature", "top_p", "frame_max_pixels")


def run(args) -> int:
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.frames import FrameStore
    from video.errors import VideoError

    try:
        config = AgentConfig(**{k: getattr(args, k) for k in _CONFIG_FLAGS if getattr(args, k) is not None})
        FrameStore(args.videos, config.candidate_frames, media_root=args.media_root).close()  # fail fast
    except (VideoError, ValueError) as exc:
        print(f"mmreward agent: {exc}", file=sys.stderr)
        return 2
    try:
        trace = _run_agent(args, config)
    except (VideoError, OSError, ValueError) as exc:
        print(f"mmreward agent: {exc}", file=sys.stderr)
        return 2
    print(trace.to_json() if args.json else _human(trace))
    return 0


def _run_agent(args, config):
    import torch

    from mmreward.agent.loop import rollout
    from mmreward.models.backbone import BackboneOptions, load_backbone

    opts = BackboneOptions(dtype=args.dtype, device=args.device, min_pixels=args.min_pixels,
                           max_pixels=args.max_pixels)
    model, processor, _ = load_backbone(args.model, opts)
    generator = torch.Generator(device=model.device).manual_seed(args.seed)
    return rollout(model, processor, args.videos, args.prompt, config, media_root=args.media_root,
                   generator=generator)


def _human(trace) -> str:
    lines = []
    for i, text in enumerate(trace.turns):
        lines.append(f"--- turn {i + 1} (prefilled {trace.prefill_tokens[i]} tokens) ---\n{text.strip() or repr(text)}")
    for i, call in enumerate(trace.selected_frames):
        frames = sorted({s["frame"] for s in call})
        lines.append(f"tool call {i + 1}: frames {frames}")
    for err in trace.tool_errors:
        lines.append(f"tool error: {err}")
    lines.append(f"judgments: {json.dumps(trace.judgments)}  format_valid: {trace.format_valid}  "
                 f"stop: {trace.stop_reason}")
    return "\n".join(lines)
