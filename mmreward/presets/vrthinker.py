"""VR-Thinker (`qunwang13/vr-thinker`, `qunwang13/vrthinker`): a Qwen2.5-VL judge that looks at a
few frames of two videos, asks for more with select_frames, and answers per dimension.

    rm = mmreward.load("qunwang13/vr-thinker")                     # the hub id picks the preset
    rm = mmreward.load(DIR, preset="vr-thinker", variant="vrthinker")
    rm.score(records)                     # or rm.score(records, policy=fn): fn(messages) -> next reply

Each record is one episode of the variant's protocol (`mmreward.agent.vrthinker`: the cards' prompts
and constants, the authors' tool answers, error texts, memory window and limits), decoded greedily:
on transformers one episode at a time with KV-cache reuse across turns, or with `engine="vllm"`
every episode of a chunk at once (`agent.engine_rollout`; the same protocol code, the same texts).
Records: two candidates with one video each (or one image each: a still clip whose every frame is
the image). Output: `rewards` from the overall label OA (1 -> [1, 0], 2 -> [0, 1], 0 -> a tie
[0.5, 0.5] with "preferred": null), `dimensions` TA / VQ / MQ the same way, `judgments` (the labels
read), `judge_text` (the last reply), `verdict_parsed` (False when no OA was found: a tie is given),
`trace` (per question, its turns: prompt_text, frames, assistant, tool) and `episode` (how it ended).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import field, replace
from typing import Literal, Optional

from mmreward.agent.config import AgentConfig  # a dataclass (the package imports no torch until used)
from mmreward.errors import ConfigError, MediaError, RecordError
from mmreward.families import Family
from mmreward.models.options import EngineOptions, MediaCapOptions, RuntimeOptions, compose, copy_field
from mmreward.presets.common import backbone_options, candidate_media
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.loop import fixed_batches, score_chunk
from mmreward.scoring.media import MediaOptions, VideoSource, open_image, open_video_source
from mmreward.scoring.outputs import scored

#: variant -> the agent protocol it speaks (mmreward.agent.protocol.PROTOCOLS)
VARIANTS = {"vr-thinker": "vr-thinker", "vrthinker": "vrthinker"}
VARIANT_FOR_HUB_ID = {"qunwang13/vr-thinker": "vr-thinker", "qunwang13/vrthinker": "vrthinker"}
#: AgentConfig settings a load may change (the rest is the protocol's): the same fields, help and types
AGENT_OPTIONS = ("max_new_tokens", "max_turns", "candidate_frames", "initial_frames", "max_frames_per_call",
                 "memory_window", "frame_max_pixels", "frame_side", "max_context_tokens")
DIMENSIONS = ("TA", "VQ", "MQ")
VERDICT_REWARDS = {1: [1.0, 0.0], 2: [0.0, 1.0], 0: [0.5, 0.5]}


def _agent_fields() -> tuple:
    hints = typing.get_type_hints(AgentConfig)
    fields = {f.name: f for f in dataclasses.fields(AgentConfig)}
    return tuple((name, hints[name], copy_field(fields[name])) for name in AGENT_OPTIONS)


VRThinkerOptions = compose(
    "VRThinkerOptions", EngineOptions, MediaCapOptions, RuntimeOptions, last=_agent_fields(),
    doc="The variant (whose protocol a checkpoint speaks), the protocol settings a load may change "
        "(default: the variant's published ones), the record media limits, the runtime.",
    first=(("preset", Optional[Literal["vr-thinker", "vrthinker"]], field(default=None, metadata={
        "help": "vr-thinker or vrthinker: the variant's default (the hub ids pick theirs)"})),
           ("variant", Optional[Literal["vr-thinker", "vrthinker"]], field(default=None, metadata={
        "help": "whose protocol the checkpoint speaks: qunwang13/vr-thinker's or qunwang13/vrthinker's (the hub "
                "ids pick theirs; a directory: vr-thinker)"})),))


def verdict(label) -> list[float]:
    """The rewards a label gives: 1 = the first candidate, 2 = the second, 0 or none = a tie."""
    return list(VERDICT_REWARDS.get(label, [0.5, 0.5]))


class VRThinker(BaseRewardModel):
    kind = "generative"

    def __init__(self, backbone, processor, name: str, variant: str, config, options, engine=None):
        self.backbone, self.processor, self.name = backbone, processor, str(name)
        self.variant, self.config = variant, config
        self.media_opts = MediaOptions.with_caps(options)
        self.engine = engine  # None: the transformers loop (KV reuse); else an engines.Engine (vLLM)

    @property
    def info(self) -> dict:
        return {**super().info, "family": "vr-thinker", "preset": "vr-thinker", "variant": self.variant,
                "dimensions": list(DIMENSIONS), "agent": self.config.to_dict(),
                "engine": self.engine.name if self.engine is not None else "hf"}

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
        """On transformers (or a policy): one episode at a time (an episode closes its videos, so
        none may run twice). On an engine: every episode of the chunk at once, each run opening its
        videos again (so the isolation rule's rerun of a failed batch costs nothing else)."""
        opts = replace(self.media_opts, media_root=media_root)
        if self.engine is not None and policy is None:
            return score_chunk(records, lambda r: [self.check(r)], lambda items: self.on_engine(items, opts),
                               self.finish, lambda items: [range(len(items))], item_noun="episode")
        return score_chunk(records, lambda r: [self.open(self.check(r), opts)], lambda items: [
            self.episode(it, policy) for it in items], self.finish, fixed_batches(1), item_noun="episode")

    def check(self, record: dict) -> dict:
        """The record's episode, its videos not yet opened."""
        files = candidate_media(record, ("images", "videos"))
        if len(files) != 2:
            raise RecordError(f"VR-Thinker compares two candidates, got {len(files)}")
        if not isinstance(record.get("prompt"), str):
            raise RecordError("VR-Thinker needs the text prompt the videos were made from")
        names = [v if isinstance(v, str) and not v.startswith("data:") else f"candidate {i}"
                 for i, (_, v) in enumerate(files)]
        return {"prompt": record["prompt"], "id": record.get("id"), "files": files, "fps": record.get("fps"),
                "names": names}

    def open(self, item: dict, opts) -> dict:
        """`item` with its candidates opened ("sources"); a MediaError names the candidate."""
        sources = []
        try:
            for i, (kind, value) in enumerate(item["files"]):
                sources.append(open_clip(kind, value, opts, i, item["fps"]))
        except MediaError as exc:
            for s in sources:
                s.close()
            raise type(exc)(f"candidate {len(sources)}: {exc}") from None
        return {**item, "sources": sources}

    def on_engine(self, items: list[dict], opts) -> list:
        """Every item's episode at once on the engine (`agent.engine_rollout`): their Traces."""
        from contextlib import ExitStack

        from mmreward.agent.engine_rollout import run_episodes
        from mmreward.agent.episode import Episode
        from mmreward.agent.frames import FrameStore

        with ExitStack() as stack:
            stores = [stack.enter_context(FrameStore.of_sources(self.open(it, opts)["sources"], self.config))
                      for it in items]
            episodes = [Episode(it["prompt"], it["names"], self.config, id=it["id"]) for it in items]
            run_episodes(self.engine, self.processor, episodes, stores, self.config)
        return [ep.trace for ep in episodes]

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

    def finish(self, record: dict, items: list, traces: list) -> dict:
        from mmreward.agent.turns import turn_records

        trace = traces[0]
        labels = trace.judgments or {}
        return scored(verdict(labels.get("OA")), {d: verdict(labels.get(d)) for d in DIMENSIONS},
                      judgments={k: labels.get(k) for k in (*DIMENSIONS, "OA")},
                      judge_text=[trace.turns[-1] if trace.turns else ""], verdict_parsed=["OA" in labels],
                      trace=[turn_records(trace, self.config.memory_window, self.processor)],
                      episode={"protocol": trace.protocol, "stop_reason": trace.stop_reason,
                            "answer_source": trace.answer_source, "format_valid": trace.format_valid,
                            "turns": len(trace.turns), "tool_calls": len(trace.selected_frames),
                            "tool_errors": list(trace.tool_errors)})


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
    import numpy as np

    from video.reader import FramesReader

    image = open_image(value, opts, index)
    return VideoSource(FramesReader([np.asarray(image.convert("RGB"))], fps=1.0), f"image {index}", False)


def agent_config(variant: str, options) -> AgentConfig:
    settings = {k: getattr(options, k) for k in AGENT_OPTIONS if getattr(options, k) is not None}
    try:
        return AgentConfig(protocol=VARIANTS[variant], **settings)
    except ValueError as exc:
        raise ConfigError(f"vr-thinker: {exc}") from None


def load(name_or_path, mode, options) -> VRThinker:
    """A VR-Thinker checkpoint (directory or hub id) -> VRThinker. `options`: VRThinkerOptions
    (the variant: else the preset's, which the hub ids pick, else "vr-thinker"; the protocol settings
    a small test model needs, e.g. max_new_tokens, frame_max_pixels; the record media limits; dtype, device, attn_implementation)."""
    from mmreward.models.backbone import load_backbone

    variant = options.variant or options.preset or "vr-thinker"
    config = agent_config(variant, options)  # before minutes of loading
    from mmreward.engines import Engine, build_engine, check_engine, wants_vllm

    engine = options.engine
    if not isinstance(engine, Engine):
        check_engine(engine)  # before minutes of loading
    runtime = {k: getattr(options, k) for k in ("dtype", "device", "attn_implementation")}  # not asdict: an Engine
    backbone, processor, path = load_backbone(name_or_path, backbone_options(runtime), weights=not wants_vllm(engine))
    if wants_vllm(engine):
        engine = build_engine(engine, backbone, processor, path, dtype=options.dtype)
    else:
        engine = None  # the transformers loop with its KV-cache reuse
    return VRThinker(backbone, processor, path, variant, config, options, engine)


FAMILY = Family(
    name="vr-thinker", title="VR-Thinker", loader="mmreward.presets.vrthinker:load", options=VRThinkerOptions,
    presets=tuple(VARIANTS), modes=("generative",), hub_ids=VARIANT_FOR_HUB_ID,  # a preset names its variant
    catalog=({"name": "qunwang13/{vr-thinker,vrthinker}", "backbone": "Qwen2.5-VL-7B",
              "kind": "video agent: select_frames tool calls, then a verdict per dimension (thinking with images)",
              "outputs": "rewards from OA (a tie: 0.5/0.5, preferred null), dimensions TA/VQ/MQ, judgments, "
                         "judge_text, trace, episode",
              "needs": "the checkpoint (the hub id picks the preset; a directory: --preset vr-thinker "
                       "or --preset vrthinker)",
              "use": "mmreward score --model qunwang13/vr-thinker --input IN --output OUT"},),
)


__all__ = ["FAMILY", "VARIANTS", "VRThinker", "VRThinkerOptions", "load", "verdict"]
