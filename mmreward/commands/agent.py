"""`mmreward agent`: run the thinking-with-image video judge (VR-Thinker) on one pair of videos."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmreward.agent.config import AgentConfig
from mmreward.commands.parsing import Command
from mmreward.errors import InputError
from mmreward.models.options import ModelOptions


@dataclass
class AgentRunConfig:
    prompt: str = field(metadata={"help": "the text prompt the videos were generated from"})
    videos: list[str] = field(metadata={"help": "video files (usually two: A B)"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory video paths are relative to; nothing outside it is read"})
    seed: int = field(default=0, metadata={"help": "sampling seed (with --temperature > 0)"})
    json: bool = field(default=False, metadata={"help": "print the trace as one JSON object"})


def run(model_opts: ModelOptions, config: AgentConfig, cfg: AgentRunConfig) -> int:
    from mmreward.agent.frames import FrameStore
    from video.errors import VideoError

    try:
        FrameStore(cfg.videos, config.candidate_frames, media_root=cfg.media_root).close()  # fail fast
        trace = _run_agent(model_opts, config, cfg)
    except (VideoError, OSError, ValueError) as exc:
        raise InputError(str(exc)) from None
    print(trace.to_json() if cfg.json else _human(trace))
    return 0


def _run_agent(model_opts: ModelOptions, config: AgentConfig, cfg: AgentRunConfig):
    import torch

    from mmreward.agent.loop import rollout
    from mmreward.models.backbone import BackboneOptions, load_backbone

    opts = BackboneOptions(dtype=model_opts.dtype, device=model_opts.device,
                           attn_implementation=model_opts.attn_implementation,
                           min_pixels=model_opts.min_pixels, max_pixels=model_opts.max_pixels)
    vllm = model_opts.engine == "vllm"
    model, processor, path = load_backbone(model_opts.model, opts, weights=not vllm)
    if vllm:
        from mmreward.engines import build_engine

        with build_engine("vllm", model, processor, path, dtype=model_opts.dtype) as engine:
            return rollout(model, processor, cfg.videos, cfg.prompt, config, media_root=cfg.media_root,
                           engine=engine, seed=cfg.seed)
    generator = torch.Generator(device=model.device).manual_seed(cfg.seed)
    return rollout(model, processor, cfg.videos, cfg.prompt, config, media_root=cfg.media_root,
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


COMMAND = Command(configs=(ModelOptions, AgentConfig, AgentRunConfig), run=run, description=(
    "The model sees a few uniformly sampled frames of each video, may call select_frames to look at others, "
    "and answers per dimension and overall (1 = first video better, 2 = second, 0 = tie). Prints the trace: "
    "every turn, the frames selected, the parsed judgments, a format-valid flag."))
