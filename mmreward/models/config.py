"""RewardConfig: what, beyond the backbone, defines a reward model. Saved as reward_config.json."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

CONFIG_NAME = "reward_config.json"
HEAD_WEIGHTS_NAME = "reward_head.safetensors"


@dataclass
class RewardConfig:
    mode: str = "scalar"  # "scalar" (MLP head) or "generative" (yes-token)
    dimensions: list[str] = field(default_factory=list)  # extra named heads, e.g. ["VQ", "MQ", "TA"]
    head_inner_size: int | None = None  # width of the head's hidden layer (default: backbone width)
    form: str = "auto"  # generative: "pointwise", "pairwise" (with reference) or "auto" (pairwise for 2)
    both_orders: bool = True  # generative pairwise: also ask with A/B swapped and average
    criteria: str | None = None  # default criteria text when a record gives none
    video_frames: int = 8  # frames sampled uniformly from each video
    rationale_tokens: int = 0  # generative: reason for up to this many tokens before yes/no (0: answer at once)
    # calibration (`mmreward calibrate`, mmreward/calibration.py), applied whenever scores are produced
    normalization: dict[str, list[float]] | None = None  # scalar: head -> [mean, std]; reward = (raw - mean) / std
    temperature: float | None = None  # generative: P(yes) = softmax(yes/no logits / temperature)
    calibration: dict | None = None  # how the above were fitted (data, records, ECE before/after)

    def __post_init__(self):
        if self.mode not in ("scalar", "generative"):
            raise ValueError(f"mode must be 'scalar' or 'generative', got {self.mode!r}")
        if self.form not in ("auto", "pointwise", "pairwise"):
            raise ValueError(f"form must be auto, pointwise or pairwise, got {self.form!r}")
        if not isinstance(self.rationale_tokens, int) or self.rationale_tokens < 0:
            raise ValueError(f"rationale_tokens must be an int >= 0, got {self.rationale_tokens!r}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        for head, stats in (self.normalization or {}).items():
            if len(stats) != 2 or not stats[1] > 0:
                raise ValueError(f"normalization[{head!r}] must be [mean, std > 0], got {stats!r}")

    @property
    def calibrated(self) -> dict | None:
        """What a loaded model applies to its raw scores (None: nothing), for `info`."""
        if not (self.normalization or self.temperature):
            return None
        return {"normalization": self.normalization, "temperature": self.temperature, **(self.calibration or {})}

    def normalize(self, rows: list) -> list:
        """Scalar head outputs ({head: raw}) -> (raw - mean) / std per head, as VideoReward's
        inference normalises VQ/MQ/TA (KwaiVGI/VideoAlign, inference.py, `_norm`)."""
        if not self.normalization or self.mode != "scalar":
            return rows
        stats = self.normalization
        return [{h: (v - stats[h][0]) / stats[h][1] if h in stats else v for h, v in row.items()} for row in rows]

    def save(self, directory: str | Path) -> None:
        Path(directory, CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> "RewardConfig | None":
        path = Path(directory, CONFIG_NAME)
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
