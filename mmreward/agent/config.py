"""Settings of the thinking-with-image video judge (VR-Thinker), shared by inference and training."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class AgentConfig:
    _argument_group_name = "agent"

    initial_frames: int = field(default=4, metadata={
        "help": "uniformly sampled frames per video shown in the first user turn"})
    candidate_frames: int = field(default=32, metadata={
        "help": "N: the tool accepts 1-based frame numbers 1..N (N uniform frames per video)"})
    max_turns: int = field(default=3, metadata={"help": "T: assistant turns per rollout, the final answer included"})
    max_frames_per_call: int = field(default=8, metadata={"help": "K: frame numbers per select_frames call"})
    memory_window: int = field(default=1, metadata={"help": "p: tool results whose images stay in the context"})
    max_new_tokens: int = field(default=128, metadata={"help": "tokens per assistant turn at most"})
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature; 0 = greedy"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling threshold"})
    dimensions: list[str] = field(default_factory=lambda: ["TA", "VQ", "MQ"], metadata={
        "help": "judged per dimension; OA (overall) is always added"})
    frame_max_pixels: int = field(default=64 * 28 * 28, metadata={
        "help": "frames are shrunk under this pixel count before the processor"})

    def __post_init__(self):
        self.dimensions = list(self.dimensions)
        if not 1 <= self.initial_frames <= self.candidate_frames:
            raise ValueError(f"initial_frames must be in 1..candidate_frames, got {self.initial_frames}")
        for name in ("max_turns", "max_frames_per_call", "max_new_tokens", "frame_max_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.memory_window < 0:
            raise ValueError(f"memory_window must be >= 0, got {self.memory_window}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")
        if "OA" in self.dimensions:
            raise ValueError("'OA' (overall) is always judged; do not list it in dimensions")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dimensions"] = list(self.dimensions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AgentConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
