"""`ClipReward`: any CLIP or SigLIP dual encoder in transformers as a frame -> reward model.

    reward = ClipReward.from_pretrained("tiny", ClipRewardConfig(goal=["a humanoid robot kneeling"],
                                                                 baseline=["a humanoid robot"], alpha=0.5))
    reward(frames)  # frames: list of HxWx3 uint8 arrays or PIL images -> np.ndarray [n]

`name_or_path` is `tiny` (the offline tiny CLIP), a local checkpoint directory,
or a hub id (resolved by `from_pretrained`, so HF_HUB_OFFLINE / the HF cache apply).
The text embeddings of the prompts are computed once per task and cached.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vision.clip_embed import ClipEmbedder, load_dual_encoder, resolve_checkpoint  # noqa: F401 (re-exported)
from vision.projection import projection_reward

TASK_FILE = "clip_reward.json"  # the task saved beside the backbone by save_pretrained


@dataclass
class ClipRewardConfig:
    goal: list[str] = field(default_factory=list)
    baseline: list[str] = field(default_factory=list)
    alpha: float = 0.5
    batch_size: int = 32  # frames per image-encoder forward pass

    def __post_init__(self):
        # a single prompt is the common case: accept a plain string
        self.goal = [self.goal] if isinstance(self.goal, str) else list(self.goal)
        self.baseline = [self.baseline] if isinstance(self.baseline, str) else list(self.baseline)
        if not self.goal or not self.baseline:
            raise ValueError("ClipRewardConfig needs at least one goal prompt and one baseline prompt")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


class ClipReward:
    """A frozen CLIP/SigLIP backbone plus a goal-baseline task: frames in, VLM-RM rewards out."""

    def __init__(self, model, processor, config: ClipRewardConfig, device: str | torch.device = "cpu"):
        self.embedder = ClipEmbedder(model, processor, device)
        self.model, self.processor, self.device = self.embedder.model, processor, self.embedder.device
        self.text_padding = self.embedder.text_padding
        self.config = config
        self._task_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, config: ClipRewardConfig | None = None,
                        device: str | torch.device = "cpu") -> ClipReward:
        source = resolve_checkpoint(name_or_path)
        model, processor = load_dual_encoder(source)
        if config is None:
            task_file = Path(source) / TASK_FILE
            if not task_file.is_file():
                raise ValueError(f"no ClipRewardConfig given and {source!r} has no saved task ({TASK_FILE})")
            config = ClipRewardConfig(**json.loads(task_file.read_text()))
        return cls(model, processor, config, device)

    def save_pretrained(self, out_dir: str | Path) -> Path:
        out_dir = Path(out_dir)
        self.model.save_pretrained(out_dir)
        self.processor.save_pretrained(out_dir)
        (out_dir / TASK_FILE).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        return out_dir

    def set_task(self, goal=None, baseline=None, alpha: float | None = None) -> None:
        """Change prompts and/or alpha; text embeddings are recomputed lazily only if prompts change."""
        old = self.config
        self.config = ClipRewardConfig(goal=old.goal if goal is None else goal,
                                       baseline=old.baseline if baseline is None else baseline,
                                       alpha=old.alpha if alpha is None else alpha, batch_size=old.batch_size)
        if (self.config.goal, self.config.baseline) != (old.goal, old.baseline):
            self._task_embeddings = None

    def embed_texts(self, prompts: list[str]) -> torch.Tensor:
        return self.embedder.embed_texts(prompts)

    def embed_images(self, frames) -> torch.Tensor:
        """Embeddings [n, d] of frames (HxWx3 uint8 arrays or PIL images), in batches."""
        return self.embedder.embed_images(frames, self.config.batch_size)

    def task_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._task_embeddings is None:
            self._task_embeddings = (self.embed_texts(self.config.goal), self.embed_texts(self.config.baseline))
        return self._task_embeddings

    def rewards_from_embeddings(self, image_embeddings: torch.Tensor) -> np.ndarray:
        goal, baseline = self.task_embeddings()
        return projection_reward(image_embeddings, goal, baseline, self.config.alpha).cpu().numpy()

    def __call__(self, frames) -> np.ndarray:
        return self.rewards_from_embeddings(self.embed_images(frames))
