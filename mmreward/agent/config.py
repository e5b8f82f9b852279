"""Settings of the thinking-with-image video judge (VR-Thinker), shared by inference and training.

`protocol` picks the conversation (`agent.protocol`); every setting left unset (None) takes the
value that protocol was published with (`Protocol.defaults`), so `AgentConfig()` runs the released
vr-thinker's protocol as its authors ran it and `AgentConfig(protocol="vrthinker")` the second card's.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .protocol import DEFAULT_PROTOCOL, PROTOCOLS, get_protocol

_FROM_PROTOCOL = "default: the protocol's"


@dataclass
class AgentConfig:
    _argument_group_name = "agent"

    protocol: str | None = field(default=None, metadata={
        "help": "conversation the judge speaks: " + ", ".join(PROTOCOLS) + f" (default {DEFAULT_PROTOCOL}; vr-thinker: the released "
                "qunwang13/vr-thinker and its authors' code; vrthinker: the qunwang13/vrthinker card; "
                "mmreward-v1: this suite's first dialect)"})
    initial_frames: int | None = field(default=None, metadata={
        "help": f"frames per video shown in the first user turn ({_FROM_PROTOCOL}: 4)"})
    candidate_frames: int | None = field(default=None, metadata={
        "help": "frames per video the tool can select (uniform over the clip); vr-thinker and vrthinker "
                f"number them 1..2F across the pair, mmreward-v1 1..F per video ({_FROM_PROTOCOL}: 48, 128, 32)"})
    max_turns: int | None = field(default=None, metadata={
        "help": f"T: assistant turns per rollout, the final answer included ({_FROM_PROTOCOL}: 4, 6, 3)"})
    max_frames_per_call: int | None = field(default=None, metadata={
        "help": f"K: frame numbers per select_frames call ({_FROM_PROTOCOL}: 8, 12, 8)"})
    memory_window: int | None = field(default=None, metadata={
        "help": f"p: tool results whose images stay in the context ({_FROM_PROTOCOL}: 1)"})
    max_new_tokens: int | None = field(default=None, metadata={
        "help": f"tokens per assistant turn at most ({_FROM_PROTOCOL}: 2048, 2048, 128)"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature; 0 = greedy"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    dimensions: list[str] = field(default_factory=lambda: ["TA", "VQ", "MQ"], metadata={
        "help": "judged per dimension; OA (overall) is always added"})
    frame_max_pixels: int | None = field(default=None, metadata={
        "help": f"frames are shrunk under this pixel count, 0 = never ({_FROM_PROTOCOL}: 1280*28*28, 0, 64*28*28)"})
    frame_side: int | None = field(default=None, metadata={
        "help": f"frames are resized to this square side, 0 = never ({_FROM_PROTOCOL}: 0, 448, 0)"})
    max_context_tokens: int | None = field(default=None, metadata={
        "help": f"the episode ends once a turn's prompt + reply pass this many tokens, 0 = no limit "
                f"({_FROM_PROTOCOL}: 12*1024-200, 0, 0)"})

    def __post_init__(self):
        self.dimensions = list(self.dimensions)
        self._given = {f.name for f in fields(self) if getattr(self, f.name) is not None}  # set by the caller
        self.protocol = self.protocol or DEFAULT_PROTOCOL
        protocol = get_protocol(self.protocol)
        for name, value in protocol.defaults().items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if not 1 <= self.initial_frames <= self.candidate_frames:
            raise ValueError(f"initial_frames must be in 1..candidate_frames, got {self.initial_frames}")
        for name in ("max_turns", "max_frames_per_call", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("memory_window", "frame_max_pixels", "frame_side", "max_context_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
        if "OA" in self.dimensions:
            raise ValueError("'OA' (overall) is always judged; do not list it in dimensions")
        protocol.check(self)

    def for_protocol(self, name: str) -> "AgentConfig":
        """The same settings under protocol `name`: what the caller set stays, the rest is its default."""
        given = {k: v for k, v in self.to_dict().items() if k in self._given and k != "protocol"}
        return AgentConfig(protocol=name, **given)

    @property
    def protocol_given(self) -> bool:
        return "protocol" in self._given

    @property
    def speaks(self):
        """The `agent.protocol.Protocol` object of `protocol`."""
        return get_protocol(self.protocol)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dimensions"] = list(self.dimensions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AgentConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
