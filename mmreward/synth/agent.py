"""Synthetic task for the video agent: the evidence is only in frames it must ask for.

Each item is a pair of flat-colour clips of one scene (same background colour,
same slow brightness ramp). For each dimension d there is one evidence frame
(candidate number `EVIDENCE[d]`, 1-based among the agent's N uniform candidate
frames): the worse clip on d flashes a whole-frame red there, the better one
does not (a tie: neither does). Nothing else differs between the clips, and the
evidence frames are never among the initial uniform frames, so a judge that
does not call select_frames sees two identical clips: its accuracy is chance.

Built for a ~10M-parameter model trained from scratch on CPU: 56x56 frames (4
visual tokens each), one whole-frame colour cue per dimension at fixed frame
numbers, and formulaic cold-start traces (`traces.jsonl`) that select exactly
the evidence frames in one call and answer correctly.

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
EVIDENCE = {"TA": 9, "VQ": 17, "MQ": 25}  # candidate frame number deciding each dimension
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
    from mmreward.agent.prompts import initial_frame_numbers

    if frames < 4:
        raise ValueError("frames must be >= 4")
    candidates = uniform_indices(frames, config.candidate_frames)
    shown = {candidates[j - 1] for j in initial_frame_numbers(config)}
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


def cold_start_texts(labels: dict[str, int], dims=("TA", "VQ", "MQ")) -> list[str]:
    """The two assistant turns of a perfect trace: select the evidence frames, then answer."""
    numbers = [EVIDENCE[d] for d in dims]
    call = json.dumps({"name": "select_frames", "arguments": {"target_frames": numbers}})
    first = ("The initial frames look the same. I check frames "
             f"{', '.join(map(str, numbers))}.\n<tool_call>{call}</tool_call>")
    notes = []
    for d in dims:
        who = labels[d]
        notes.append(f"Frame {EVIDENCE[d]} ({d}): " + ("no flash." if who == 0 else f"video {3 - who} flashes red."))
    answer = ", ".join(f"{d}: {labels[d]}" for d in (*dims, "OA"))
    return [first, " ".join(notes) + f"\n<answer>{answer}</answer>"]


def cold_start_trace(item: dict, config=None):
    """The Trace of an agent that writes `cold_start_texts` on this item (labels attached)."""
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.episode import scripted_trace

    config = config or AgentConfig()
    texts = cold_start_texts(item["labels"], config.dimensions)
    return scripted_trace(item["prompt"], item["videos"], texts, config, id=item["id"], labels=item["labels"])


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
