"""Synthetic task for the video agent: the evidence is only in frames it must ask for.

Each item is a pair of flat-colour clips of one scene (same background colour,
same slow brightness ramp). For each dimension d there is one evidence frame
(candidate `EVIDENCE[d]`, 1-based among each video's N uniform candidate
frames): the worse clip on d flashes a whole-frame red there, the better one
does not (a tie: neither does). Nothing else differs between the clips, and the
evidence frames are never among the initial frames (of any protocol's rule), so a
judge that does not call select_frames sees two identical clips: its accuracy is chance.

Built for a ~10M-parameter model trained from scratch on CPU: 56x56 frames (4
visual tokens each), one whole-frame colour cue per dimension at fixed frame
numbers, and formulaic cold-start traces (`traces.jsonl`, in the config's protocol) that
select exactly the evidence frames of both videos in one call and answer correctly.

    mmreward synth agent --out data/agent --n 200 --seed 0
    -> data/agent/videos/*.mp4, items.jsonl {"id", "prompt", "videos": [a, b], "labels"}, traces.jsonl
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from video.sampling import uniform_indices
from video.writer import write_mp4

_STREAM = 3  # keeps this task's random streams apart from the other synthetic tasks'
# candidate frame (per video) deciding each dimension: between the initial frames of both the
# published protocol's stride rule (1, 9, 17, 25 of 32) and the v1 uniform rule (5, 13, 21, 29 of 32)
EVIDENCE = {"TA": 7, "VQ": 15, "MQ": 23}
FLASH = (220, 40, 40)  # the defect: a whole red frame
BACKGROUNDS = {"blue": (50, 80, 150), "green": (60, 130, 80), "grey": (120, 120, 120),
               "brown": (130, 100, 60), "purple": (100, 70, 140), "teal": (40, 120, 130)}
_MOTIONS = ("slowly brightens", "slowly darkens")


def make_agent_items(out_dir: str | Path, n: int, seed: int = 0, frames: int = 32, size: int = 56, *,
                     fps: float = 8, tie_rate: float = 0.0, config=None, traces: bool = True) -> list[dict]:
    """Write n items (videos, items.jsonl and, with `traces`, traces.jsonl); return the items."""
    from mmreward.agent.config import AgentConfig

    config = config or AgentConfig()
    evidence = evidence_frames(frames, config)
    if size % 2 or size < 28:
        raise ValueError("size must be even and >= 28")
    if not 0.0 <= tie_rate < 1.0:
        raise ValueError(f"tie_rate must be in [0, 1), got {tie_rate}")
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(n):
        rng = np.random.default_rng([seed, _STREAM, i])
        item, clips = agent_item(rng, i, frames, size, evidence, tie_rate)
        for path, clip in zip(item["videos"], clips):
            write_mp4(out_dir / path, clip, fps=fps)
        items.append(item)
    _write_jsonl(out_dir / "items.jsonl", items)
    if traces:
        _write_jsonl(out_dir / "traces.jsonl", [cold_start_trace(it, config).to_dict() for it in items])
    return items


def evidence_frames(frames: int, config) -> dict[str, int]:
    """{dimension: 0-based frame index in the clip}, checked to avoid every initial frame."""
    if frames < 4:
        raise ValueError("frames must be >= 4")
    candidates = uniform_indices(frames, config.candidate_frames)
    first = config.speaks.opening("", 2, config)[1]["content"]
    shown = {candidates[item["frame"] - 1] for item in first if item.get("type") == "image"}
    out = {}
    for dim in config.dimensions:
        number = EVIDENCE.get(dim)
        if number is None or number > config.candidate_frames:
            raise ValueError(f"no evidence frame for dimension {dim!r} with N={config.candidate_frames}")
        out[dim] = candidates[number - 1]
        if out[dim] in shown:
            raise ValueError(f"with {frames} frames, the evidence frame of {dim} is an initial frame; "
                             f"use at least {config.candidate_frames} frames")
    return out


def agent_item(rng: np.random.Generator, i: int, frames: int, size: int, evidence: dict[str, int],
               tie_rate: float = 0.0) -> tuple[dict, list[np.ndarray]]:
    """(item, [clip_a, clip_b]) for item number i."""
    name = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    motion = int(rng.integers(len(_MOTIONS)))
    labels = {d: (0 if rng.random() < tie_rate else int(rng.integers(1, 3))) for d in evidence}
    labels["OA"] = overall(labels)
    base = _ramp(BACKGROUNDS[name], frames, size, brighten=motion == 0)
    clips = []
    for video in (1, 2):
        clip = base.copy()
        for dim, t in evidence.items():
            if labels[dim] not in (0, video):  # this clip loses on dim: it flashes there
                clip[t] = FLASH
        clips.append(clip)
    item = {"id": f"agent-{i:05d}", "prompt": f"a {name} scene {_MOTIONS[motion]}",
            "videos": [f"videos/{i:05d}_{k}.mp4" for k in range(2)], "labels": labels,
            "meta": {"evidence_frames": {d: EVIDENCE[d] for d in evidence}, "frames": frames}}
    return item, clips


def overall(labels: dict[str, int]) -> int:
    """The clip that wins more dimensions (0 when they win as many)."""
    wins = [sum(v == k for v in labels.values()) for k in (1, 2)]
    return 0 if wins[0] == wins[1] else (1 if wins[0] > wins[1] else 2)


def _ramp(rgb, frames: int, size: int, brighten: bool) -> np.ndarray:
    """(frames, size, size, 3) flat frames whose brightness drifts by up to ~15%."""
    scale = np.linspace(0.9, 1.05, frames) if brighten else np.linspace(1.05, 0.9, frames)
    colours = np.clip(np.outer(scale, rgb), 0, 255).astype(np.uint8)
    return np.broadcast_to(colours[:, None, None, :], (frames, size, size, 3)).copy()


def evidence_numbers(config, dims=("TA", "VQ", "MQ")) -> list[int]:
    """The frame numbers (as the protocol numbers them) of every video's evidence frames."""
    p = config.speaks
    return sorted({p.number(v, EVIDENCE[d], config) for v in range(2) for d in dims})


def cold_start_texts(labels: dict[str, int], dims=("TA", "VQ", "MQ"), config=None) -> list[str]:
    """The two assistant turns of a perfect trace in the config's protocol: select the evidence
    frames of both videos, then answer."""
    from mmreward.agent.config import AgentConfig

    config = config or AgentConfig()
    numbers = evidence_numbers(config, dims)
    first = config.speaks.write_call(numbers, dims, note="The initial frames look the same. I check frames "
                                     f"{', '.join(map(str, numbers))}.")
    notes = []
    for d in dims:
        who = labels[d]
        notes.append(f"Frame {EVIDENCE[d]} ({d}): " + ("no flash." if who == 0 else f"video {3 - who} flashes red."))
    return [first, config.speaks.write_answer(labels, dims, note=" ".join(notes))]


def cold_start_trace(item: dict, config=None):
    """The Trace of an agent that writes `cold_start_texts` on this item (labels attached)."""
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.episode import scripted_trace

    config = config or AgentConfig()
    texts = cold_start_texts(item["labels"], config.dimensions, config)
    return scripted_trace(item["prompt"], item["videos"], texts, config, id=item["id"], labels=item["labels"])


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
