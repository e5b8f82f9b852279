"""`mmreward agent`: run the thinking-with-image video judge (VR-Thinker) on one pair of videos.

Python: `judge(model_opts, agent_config, run_config, policy=fn)` returns the output the command
prints with --json; `policy(messages) -> next assistant text` writes the turns instead of the model
(only the checkpoint's processor is loaded then).
"""
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


def config_for_model(config: AgentConfig, model: str) -> AgentConfig:
    """A released VR-Thinker id speaks its own protocol unless --protocol says otherwise."""
    from mmreward.presets.vrthinker import VARIANT_FOR_HUB_ID, VARIANTS

    variant = VARIANT_FOR_HUB_ID.get(str(model).lower())
    if variant is None or config.protocol_given:
        return config
    return config.for_protocol(VARIANTS[variant])


def judge(model_opts: ModelOptions, config: AgentConfig, cfg: AgentRunConfig, policy=None) -> dict:
    """The episode on `cfg.videos`: {"trace": its turns, "judgments", ..., the whole Trace}."""
    from mmreward.agent.frames import FrameStore
    from mmreward.agent.turns import turn_records
    from video.errors import VideoError

    config = config_for_model(config, model_opts.model)
    try:
        FrameStore.for_config(cfg.videos, config, cfg.media_root).close()  # fail fast, before loading
        trace, processor = _run_agent(model_opts, config, cfg, policy)
    except (VideoError, OSError, ValueError) as exc:
        raise InputError(str(exc)) from None
    return {**trace.to_dict(), "agent_config": config.to_dict(),
            "trace": [turn_records(trace, config.memory_window, processor)]}


def run(model_opts: ModelOptions, config: AgentConfig, cfg: AgentRunConfig, policy=None) -> int:
    out = judge(model_opts, config, cfg, policy)
    print(json.dumps(out, ensure_ascii=False) if cfg.json else _human(out))
    return 0


def _run_agent(model_opts: ModelOptions, config: AgentConfig, cfg: AgentRunConfig, policy=None):
    import torch

    from mmreward.agent.loop import rollout
    from mmreward.models.backbone import BackboneOptions, load_backbone, load_processor, resolve_name

    opts = BackboneOptions(dtype=model_opts.dtype, device=model_opts.device,
                           attn_implementation=model_opts.attn_implementation,
                           min_pixels=model_opts.min_pixels, max_pixels=model_opts.max_pixels)
    if policy is not None:
        processor = load_processor(str(resolve_name(model_opts.model)), opts)
        return rollout(None, processor, cfg.videos, cfg.prompt, config, media_root=cfg.media_root,
                       policy=policy), processor
    vllm = model_opts.engine == "vllm"
    model, processor, path = load_backbone(model_opts.model, opts, weights=not vllm)
    if vllm:
        from mmreward.engines import build_engine

        with build_engine("vllm", model, processor, path, dtype=model_opts.dtype) as engine:
            return rollout(model, processor, cfg.videos, cfg.prompt, config, media_root=cfg.media_root,
                           engine=engine, seed=cfg.seed), processor
    generator = torch.Generator(device=model.device).manual_seed(cfg.seed)
    return rollout(model, processor, cfg.videos, cfg.prompt, config, media_root=cfg.media_root,
                   generator=generator), processor


def _human(out: dict) -> str:
    lines = []
    for i, turn in enumerate(out["trace"][0]):
        frames = ", ".join(f"{f['video']}:{f['frame']}" for f in turn["frames"])
        lines.append(f"--- turn {i + 1} (prefilled {out['prefill_tokens'][i]} tokens; frames shown "
                     f"video:frame {frames}) ---\n{turn['assistant'].strip() or repr(turn['assistant'])}")
        if turn["tool"] is not None:
            lines.append(f"[tool] {turn['tool'].strip()}")
    lines.append(f"judgments: {json.dumps(out['judgments'])}  format_valid: {out['format_valid']}  "
                 f"stop: {out['stop_reason']}  protocol: {out['protocol']}")
    return "\n".join(lines)


COMMAND = Command(configs=(ModelOptions, AgentConfig, AgentRunConfig), run=run, description=(
    "The model sees a few frames of each video, may call select_frames to look at others, and answers per "
    "dimension and overall (1 = first video better, 2 = second, 0 = tie), in the protocol of the released "
    "VR-Thinker (--protocol). Prints every turn: what the model was shown, what it wrote, what the tool "
    "answered; then the verdict."))
