"""Write synthetic preference data drawn with PIL, deterministic by seed.

Pairs go to OUT/pairs.jsonl (or OUT/train.jsonl + OUT/test.jsonl with --test-fraction)
with their media, paths relative to OUT (score them with --media-root OUT). Each record
has "chosen": the index of the preferred candidate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command
from mmreward.errors import ConfigError
from mmreward.synth.shapes import COLOURS, SHAPES
from mmreward.synth.videos import DEFECTS

SUBCOMMANDS = {
    "images": ("mmreward.commands.synth:IMAGES", "'a red circle': the chosen image shows it, the rejected one does not"),
    "videos": ("mmreward.commands.synth:VIDEOS", "a moving shape; the rejected clip has a defect in a few frames"),
    "agent": ("mmreward.commands.synth:AGENT", "video pairs whose evidence is only in frames the agent must select"),
}


@dataclass
class PairsConfig:
    out: str = field(metadata={"help": "output directory (created)"})
    n: int = field(metadata={"help": "number of pairs"})
    seed: int = field(default=0, metadata={"help": "random seed (same seed, same files)"})
    test_fraction: float = field(default=0.0, metadata={
        "help": "write train.jsonl and test.jsonl, this fraction in test (default: one pairs.jsonl)"})
    shapes: str | None = field(default=None, metadata={
        "help": f"comma-separated subset of the shapes ({', '.join(SHAPES)}; all by default)"})
    colours: str | None = field(default=None, metadata={
        "help": f"comma-separated subset of the colours ({', '.join(COLOURS)}; all by default)"})

    def subsets(self) -> dict:
        out = {}
        for key, known in (("shapes", SHAPES), ("colours", tuple(COLOURS))):
            text = getattr(self, key)
            if text is None:
                continue
            chosen = _names(text)
            if any(c not in known for c in chosen) or len(chosen) < 2:
                raise ConfigError(f"--{key} needs at least two of {', '.join(known)}; got {text}")
            out[key] = chosen
        return out


@dataclass
class ImagesConfig(PairsConfig):
    size: int = field(default=56, metadata={"help": "width = height in pixels"})
    differ: Literal["any", "shape", "colour", "both"] = field(default="any", metadata={
        "help": "what the rejected image gets wrong (any: drawn per pair)"})


@dataclass
class VideosConfig(PairsConfig):
    size: int = field(default=64, metadata={"help": "width = height in pixels"})
    frames: int = field(default=12, metadata={"help": "frames per clip"})
    fps: float = field(default=8.0, metadata={"help": "frame rate"})
    defects: str | None = field(default=None, metadata={
        "help": "comma-separated subset of the defects ("
                + ", ".join(f"{k} hurts {v}" for k, v in DEFECTS.items()) + "; all by default)"})


@dataclass
class AgentTaskConfig:
    out: str = field(metadata={"help": "output directory (created)"})
    n: int = field(metadata={"help": "number of items (video pairs)"})
    seed: int = field(default=0, metadata={"help": "random seed (same seed, same files)"})
    frames: int = field(default=32, metadata={"help": "frames per clip (>= N candidates)"})
    size: int = field(default=56, metadata={"help": "width = height in pixels"})
    fps: float = field(default=8.0, metadata={"help": "frame rate"})
    tie_rate: float = field(default=0.0, metadata={"help": "chance a dimension is a tie"})
    no_traces: bool = field(default=False, metadata={"help": "do not write traces.jsonl"})


def _names(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _report(cfg: PairsConfig, records: list, media: str) -> None:
    files = "pairs.jsonl" if not cfg.test_fraction else "train.jsonl + test.jsonl"
    print(f"wrote {len(records)} pairs to {cfg.out}/{files} ({media} in {cfg.out}/{media}/)")


def run_images(cfg: ImagesConfig) -> int:
    from mmreward.synth.images import make_image_pairs

    try:
        records = make_image_pairs(cfg.out, cfg.n, seed=cfg.seed, size=cfg.size, test_fraction=cfg.test_fraction,
                                   differ=cfg.differ, **cfg.subsets())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _report(cfg, records, "images")
    return 0


def run_videos(cfg: VideosConfig) -> int:
    from mmreward.synth.videos import make_video_pairs

    extra = cfg.subsets()
    if cfg.defects is not None:
        extra["defects"] = _names(cfg.defects)
    try:
        records = make_video_pairs(cfg.out, cfg.n, seed=cfg.seed, size=cfg.size, frames=cfg.frames, fps=cfg.fps,
                                   test_fraction=cfg.test_fraction, **extra)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _report(cfg, records, "videos")
    return 0


def run_agent(cfg: AgentTaskConfig) -> int:
    from mmreward.synth.agent import make_agent_items

    try:
        items = make_agent_items(cfg.out, cfg.n, seed=cfg.seed, frames=cfg.frames, size=cfg.size, fps=cfg.fps,
                                 tie_rate=cfg.tie_rate, traces=not cfg.no_traces)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    extra = "" if cfg.no_traces else " + traces.jsonl"
    print(f"wrote {len(items)} items to {cfg.out}/items.jsonl{extra} (videos in {cfg.out}/videos/)")
    return 0


IMAGES = Command(configs=(ImagesConfig,), run=run_images, description=(
    "Image pairs: the prompt names a shape and a colour; the chosen image shows them, the rejected one "
    "gets the shape, the colour or both wrong. " + __doc__.split("\n\n")[1].replace("\n", " ")))
VIDEOS = Command(configs=(VideosConfig,), run=run_videos, description=(
    "Video pairs: a moving shape; the rejected clip has a defect in a few frames, which hurts one of the "
    "VQ/MQ/TA dimensions. " + __doc__.split("\n\n")[1].replace("\n", " ")))
AGENT = Command(configs=(AgentTaskConfig,), run=run_agent, description=(
    "The video agent's task: pairs of clips whose evidence is only in frames the agent must select "
    "(items.jsonl, cold-start traces.jsonl, videos/)."))
