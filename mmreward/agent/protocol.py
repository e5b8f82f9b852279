"""A conversation protocol: everything the judge and its environment say to each other.

The episode (`episode.Episode`) is the same for every protocol; what differs is here: the system
prompt and first user turn, how frames are numbered, how a tool call is written and checked, what
the tool answers (frames, or an error text), when a reply ends the episode, how the verdict is read,
what counts as well-formed, and the settings the protocol was published with (`defaults`).

Protocols (`PROTOCOLS`):
- "vr-thinker": the released `qunwang13/vr-thinker` and the authors' code (`agent.vrthinker`);
- "vrthinker": the released `qunwang13/vrthinker` card's constants and system prompt;
- "mmreward-v1": this suite's first dialect (`agent.legacy`), for traces and runs made with it.

Frames: a protocol numbers the frames the model may ask for (1-based). "per-video" numbering
shows frame n of every video for number n; "combined" numbering runs 1..N across the videos
(video k holds numbers (k-1)*F+1 .. k*F, F = `candidate_frames` per video). An image in a message
is a reference {"type": "image", "video": v (0-based), "frame": f (1-based within the video's F
candidates), "number": n (what the model calls it)}; `frames.materialize` adds its pixels.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod

from .parse import ToolError
from .vrthinker.answers import Answer

#: protocol name -> "module:Class" (imported when first used)
PROTOCOLS = {
    "vr-thinker": "mmreward.agent.vrthinker.protocol:VRThinkerProtocol",
    "vrthinker": "mmreward.agent.vrthinker.protocol:VRThinkerCardProtocol",
    "mmreward-v1": "mmreward.agent.legacy:LegacyProtocol",
}
DEFAULT_PROTOCOL = "vr-thinker"
_CACHE: dict = {}


def get_protocol(name: str) -> "Protocol":
    if name not in PROTOCOLS:
        raise ValueError(f"unknown agent protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    if name not in _CACHE:
        module, _, cls = PROTOCOLS[name].partition(":")
        _CACHE[name] = getattr(importlib.import_module(module), cls)()
    return _CACHE[name]


def frame_item(video: int, frame: int, number: int) -> dict:
    return {"type": "image", "video": video, "frame": frame, "number": number}


def text_item(text: str) -> dict:
    return {"type": "text", "text": text}


class Protocol(ABC):
    name = ""
    numbering = "per-video"  # or "combined"
    videos: int | None = None  # the number of videos its texts describe (None: any)
    stop_after: str | None = None  # a reply is cut after this text (generation may stop there)
    dropped_as: str | None = None  # what a forgotten tool image becomes (None: video.memory's description)
    errors_in_window = False  # refused calls are tool results too (they push older frames out)

    @abstractmethod
    def defaults(self) -> dict:
        """AgentConfig values the protocol was published with."""

    def check(self, config) -> None:
        """ValueError when `config` contradicts the protocol's texts."""

    # ------------------------------------------------------------------ frame numbers
    def total_frames(self, config, n_videos: int) -> int:
        return config.candidate_frames * (n_videos if self.numbering == "combined" else 1)

    def locate(self, number: int, config, n_videos: int) -> list[tuple[int, int]]:
        """(video, frame) of every image a selected `number` stands for."""
        per = config.candidate_frames
        if self.numbering == "combined":
            return [((number - 1) // per, (number - 1) % per + 1)]
        return [(v, number) for v in range(n_videos)]

    def number(self, video: int, frame: int, config) -> int:
        return video * config.candidate_frames + frame if self.numbering == "combined" else frame

    def frame_items(self, numbers: list[int], config, n_videos: int) -> list[dict]:
        return [frame_item(v, f, n) for n in numbers for v, f in self.locate(n, config, n_videos)]

    # ------------------------------------------------------------------ the environment's side
    @abstractmethod
    def opening(self, prompt: str, n_videos: int, config) -> list[dict]:
        """The system message and the first user turn (with the initial frames)."""

    @abstractmethod
    def result_turn(self, numbers: list[int], config, n_videos: int, turns_left: int) -> dict:
        """The user turn answering a call with the selected frames."""

    @abstractmethod
    def error_turn(self, error: ToolError, config, turns_left: int) -> dict:
        """The user turn answering a refused call (its error text)."""

    def reminder_turn(self, config, turns_left: int) -> dict | None:
        """The reply to a turn that neither calls the tool nor ends the episode."""
        return None

    def tool_turn(self, content: list[dict], frames: list[int] | None = None) -> dict:
        """A user turn that is the tool's answer: the memory window acts on it."""
        msg = {"role": "user", "tool_result": True, "content": content}
        if frames is not None:
            msg["frames"] = list(frames)
        if self.dropped_as is not None:
            msg["dropped_as"] = self.dropped_as
        return msg

    # ------------------------------------------------------------------ the model's side
    def clean(self, text: str) -> str:
        """The reply as the conversation keeps it."""
        if self.stop_after and self.stop_after in text:
            text = text[:text.index(self.stop_after) + len(self.stop_after)]
        return text

    @abstractmethod
    def is_final(self, text: str) -> bool:
        """The reply ends the episode."""

    def end_reason(self, text: str) -> str:
        """The stop reason of an episode a final reply ended: "answer", or "no_call" (it called no
        tool and gave no answer either)."""
        return "answer"

    @abstractmethod
    def read_call(self, text: str, config, n_videos: int) -> list[int] | ToolError | None:
        """The frame numbers asked for, why the call is refused, or None (no call)."""

    @abstractmethod
    def read_answer(self, texts: list[str], dims) -> Answer:
        """The verdict of an episode whose replies are `texts`."""

    @abstractmethod
    def format_valid(self, trace, dims) -> bool:
        """Whether every reply of `trace` keeps the protocol's format."""

    # ------------------------------------------------------------------ writing as the model (scripts)
    @abstractmethod
    def write_call(self, numbers: list[int], dims, note: str = "", inclination: dict | None = None) -> str:
        """A reply calling the tool for `numbers` (scripted policies, synthetic traces)."""

    @abstractmethod
    def write_answer(self, labels: dict, dims, note: str = "") -> str:
        """A final reply giving `labels` (scripted policies, synthetic traces)."""
