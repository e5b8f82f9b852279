"""VR-Thinker (`qunwang13/vr-thinker`, `qunwang13/vrthinker`): a Qwen2.5-VL judge that looks at a
few frames of two videos, asks for more with select_frames, and answers per dimension.

    rm = mmreward.load("qunwang13/vr-thinker")                     # the hub id picks the preset
    rm = mmreward.load(DIR, preset="vr-thinker", variant="vrthinker")
    rm.score(records)                     # or rm.score(records, policy=fn): fn(messages) -> next reply

Each record is one episode of the variant's protocol (`mmreward.agent.vrthinker`: the cards' prompts
and constants, the authors' tool answers, error texts, memory window and limits), decoded greedily.
Records: two candidates with one video each (or one image each: a still clip whose every frame is
the image). Output: `rewards` from the overall label OA (1 -> [1, 0], 2 -> [0, 1], 0 -> a tie
[0.5, 0.5] with "preferred": null), `dimensions` TA / VQ / MQ the same way, `judgments` (the labels
read), `judge_text` (the last reply), `verdict_parsed` (False when no OA was found: a tie is given),
`trace` (per question, its turns: prompt_text, frames, assistant, tool) and `episode` (how it ended).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from mmreward.errors import ConfigError, MediaError, RecordError
from mmreward.presets.common import backbone_options, candidate_media, check_mode, media_options, take_options
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.isolation import score_records
from mmreward.scoring.media import MEDIA_CAPS, VideoSource, open_image, open_video_source

#: variant -> the agent protocol it speaks (mmreward.agent.protocol.PROTOCOLS)
VARIANTS = {"vr-thinker": "vr-thinker", "vrthinker": "vrthinker"}
VARIANT_FOR_HUB_ID = {"qunwang13/vr-thinker": "vr-thinker", "qunwang13/vrthinker": "vrthinker"}
#: AgentConfig settings a load may change (the rest is the protocol's)
AGENT_OPTIONS = ("max_new_tokens", "max_turns", "candidate_frames", "initial_frames", "max_frames_per_call",
                 "memory_window", "frame_max_pixels", "frame_side", "max_context_tokens")
OPTIONS = ("variant", *AGENT_OPTIONS, *MEDIA_CAPS)
DIMENSIONS = ("TA", "VQ", "MQ")
VERDICT_REWARDS = {1: [1.0, 0.0], 2: [0.0, 1.0], 0: [0.5, 0.5]}


def verdict(label) -> tuple[list[float], int | None]:
    """(rewards, preferred) of a label: 1 = the first candidate, 2 = the second, 0 or none = a tie."""
    return list(VERDICT_REWARDS.get(label, [0.5, 0.5])), {1: 0, 2: 1}.get(label)


class VRThinker(BaseRewardModel):
    kind = "generative"

    def __init__(self, backbone, processor, name: str, variant: str, config, options: dict):
        self.backbone, self.processor, self.name = backbone, processor, str(name)
        self.variant, self.config = variant, config
        self.media_opts = media_options(options)

    @property
    def info(self) -> dict:
        return {**super().info, "family": "vr-thinker", "preset": "vr-thinker", "variant": self.variant,
                "dimensions": list(DIMENSIONS), "agent": self.config.to_dict()}

    # ------------------------------------------------------------------ scoring
    def score(self, records, media_root=None, batch_size: int = 8, progress: bool = False, policy=None):
        """As every reward model; `policy(messages) -> str` writes the judge's turns instead of the model."""
        target = self if policy is None else _Scripted(self, policy)
        return BaseRewardModel.score(target, records, media_root, batch_size, progress)

    def score_iter(self, records, media_root=None, batch_size: int = 8, progress: bool = False, total=None,
                   policy=None):
        target = self if policy is None else _Scripted(self, policy)
        return BaseRewardModel.score_iter(target, records, media_root, batch_size, progress, total)

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8, policy=None) -> list[dict]:
        """One episode at a time (an episode closes its videos, so none may run twice)."""
        opts = replace(self.media_opts, media_root=media_root)
        return score_records(records, lambda r: [self.prepare(r, opts)], lambda items: [
            self.episode(it, policy) for it in items], self.finish, 1, item_noun="episode")

    def prepare(self, record: dict, opts) -> dict:
        files = candidate_media(record, ("images", "videos"))
        if len(files) != 2:
            raise RecordError(f"VR-Thinker compares two candidates, got {len(files)}")
        if not isinstance(record.get("prompt"), str):
            raise RecordError("VR-Thinker needs the text prompt the videos were made from")
        sources = []
        try:
            for i, (kind, value) in enumerate(files):
                sources.append(open_clip(kind, value, opts, i, record.get("fps")))
        except MediaError as exc:
            for s in sources:
                s.close()
            raise type(exc)(f"candidate {len(sources)}: {exc}") from None
        names = [v if isinstance(v, str) and not v.startswith("data:") else f"candidate {i}"
                 for i, (_, v) in enumerate(files)]
        return {"prompt": record["prompt"], "id": record.get("id"), "sources": sources, "names": names}

    def episode(self, item: dict, policy=None):
        """One episode on a prepared record: its Trace."""
        from mmreward.agent.episode import Episode
        from mmreward.agent.frames import FrameStore
        from mmreward.agent.kv import CachedDecoder
        from mmreward.agent.loop import ModelTurns, PolicyTurns, run_episode

        ep = Episode(item["prompt"], item["names"], self.config, id=item["id"])
        turns = PolicyTurns(policy) if policy is not None else ModelTurns(
            CachedDecoder(self.backbone, self.processor), self.config)
        with FrameStore.of_sources(item["sources"], self.config) as store:
            return run_episode(ep, store, turns, self.config)

    def finish(self, record: dict, traces: list) -> dict:
        from mmreward.agent.turns import turn_records

        trace = traces[0]
        labels = trace.judgments or {}
        rewards, preferred = verdict(labels.get("OA"))
        return {"rewards": rewards, "preferred": preferred,
                "dimensions": {d: verdict(labels.get(d))[0] for d in DIMENSIONS},
                "judgments": {k: labels.get(k) for k in (*DIMENSIONS, "OA")},
                "judge_text": [trace.turns[-1] if trace.turns else ""], "verdict_parsed": ["OA" in labels],
                "trace": [turn_records(trace, self.config.memory_window, self.processor)],
                "episode": {"protocol": trace.protocol, "stop_reason": trace.stop_reason,
                            "answer_source": trace.answer_source, "format_valid": trace.format_valid,
                            "turns": len(trace.turns), "tool_calls": len(trace.selected_frames),
                            "tool_errors": list(trace.tool_errors)}}


class _Scripted(BaseRewardModel):
    """The model with a scripted policy bound: what `score(records, policy=fn)` runs."""

    def __init__(self, model: VRThinker, policy):
        self.model, self.policy, self.kind = model, policy, model.kind

    @property
    def info(self) -> dict:
        return {**self.model.info, "policy": getattr(self.policy, "__name__", type(self.policy).__name__)}

    def score_chunk(self, records, media_root=None, batch_size: int = 8):
        return self.model.score_chunk(records, media_root, batch_size, policy=self.policy)


def open_clip(kind: str, value, opts, index: int, fps=None) -> VideoSource:
    """A candidate's video, or its image as a one-frame clip, opened from any record form."""
    if kind == "videos":
        return open_video_source(value, opts, index, fps)
    from video.reader import FramesReader

    image = open_image(value, opts, index)
    return VideoSource(FramesReader([np.asarray(image.convert("RGB"))], fps=1.0), f"image {index}", False)


def agent_config(variant: str, options: dict):
    from mmreward.agent.config import AgentConfig

    settings = {k: options[k] for k in AGENT_OPTIONS if options.get(k) is not None}
    try:
        return AgentConfig(protocol=VARIANTS[variant], **settings)
    except ValueError as exc:
        raise ConfigError(f"vr-thinker: {exc}") from None


def load(name_or_path, mode=None, **options) -> VRThinker:
    """A VR-Thinker checkpoint (directory or hub id) -> VRThinker.

    Options: variant ("vr-thinker" | "vrthinker"; the hub ids pick theirs, a directory defaults to
    "vr-thinker"), the protocol settings in AGENT_OPTIONS (default: the variant's published ones;
    e.g. max_new_tokens, frame_max_pixels for a small test model), the record media limits, dtype,
    device, attn_implementation."""
    from mmreward.models.backbone import load_backbone

    check_mode("VR-Thinker", mode, "generative")
    opts = take_options("VR-Thinker", options, OPTIONS)
    variant = opts.get("variant") or VARIANT_FOR_HUB_ID.get(str(name_or_path).lower()) or "vr-thinker"
    if variant not in VARIANTS:
        raise ConfigError(f"vr-thinker: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    config = agent_config(variant, opts)  # before minutes of loading
    backbone, processor, path = load_backbone(name_or_path, backbone_options(opts))
    return VRThinker(backbone, processor, path, variant, config, opts)


__all__ = ["VARIANTS", "VRThinker", "load", "verdict"]
