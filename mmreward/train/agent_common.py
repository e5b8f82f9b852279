"""What the agent recipes (sft --objective traces, rft, grpo) share: agent settings from the
command line, the policy loader, the items file, and a cache of open frame stores."""
from __future__ import annotations

import argparse
import json
from collections import OrderedDict
from pathlib import Path


def add_agent_arguments(p: argparse.ArgumentParser) -> None:
    """The AgentConfig fields; they must match the ones the traces were made (and will be run) with."""
    g = p.add_argument_group("agent")
    g.add_argument("--agent-config", default=None,
                   help="JSON file of AgentConfig fields (flags given below override it)")
    g.add_argument("--initial-frames", type=int, default=None)
    g.add_argument("--candidate-frames", type=int, default=None, help="N, frames the tool can address")
    g.add_argument("--max-turns", type=int, default=None, help="T")
    g.add_argument("--max-frames-per-call", type=int, default=None, help="K")
    g.add_argument("--memory-window", type=int, default=None, help="p, tool results that keep images")
    g.add_argument("--max-new-tokens", type=int, default=None, help="per assistant turn")
    g.add_argument("--frame-max-pixels", type=int, default=None)


AGENT_FIELDS = ("initial_frames", "candidate_frames", "max_turns", "max_frames_per_call",
                "memory_window", "max_new_tokens", "frame_max_pixels")


def agent_config_from_args(args: argparse.Namespace, **overrides):
    from mmreward.agent.config import AgentConfig

    base = {}
    if getattr(args, "agent_config", None):
        base = json.loads(Path(args.agent_config).read_text())
    for name in AGENT_FIELDS:
        if getattr(args, name, None) is not None:
            base[name] = getattr(args, name)
    base.update(overrides)
    return AgentConfig.from_dict(base)


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="tiny", help="initial checkpoint: tiny, a directory or a hub id")
    p.add_argument("--out", required=True, help="output directory (checkpoints, logs, final model)")
    p.add_argument("--media-root", default=None,
                   help="directory the traces' / items' video paths are relative to")
    p.add_argument("--dtype", default=None, help="bfloat16 | float32 (default: bf16 on GPU, fp32 on CPU)")
    p.add_argument("--min-pixels", type=int, default=28 * 28, help="processor image pixel bounds")
    p.add_argument("--max-pixels", type=int, default=64 * 28 * 28)
    p.add_argument("--seed", type=int, default=0)


def load_policy(model: str, dtype=None, min_pixels=None, max_pixels=None, device: str = "cpu"):
    """(model, processor) in training mode; loaded on CPU so accelerate / Trainer place it."""
    from mmreward.models.backbone import BackboneOptions, load_backbone

    opts = BackboneOptions(dtype=dtype, device=device, min_pixels=min_pixels, max_pixels=max_pixels)
    policy, processor, _ = load_backbone(model, opts)
    return policy, processor


def read_items(path: str | Path) -> list[dict]:
    """Agent task items: {"id", "prompt", "videos": [a, b], "labels": {"TA", "VQ", "MQ", "OA"}}."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def default_media_root(data_path: str | Path, media_root: str | None) -> str:
    """Synthetic sets keep videos beside their JSONL: default the root to the file's folder."""
    return media_root if media_root is not None else str(Path(data_path).resolve().parent)


class StoreCache:
    """A few open FrameStores keyed by their videos: traces of one item share decoded frames."""

    def __init__(self, config, media_root=None, size: int = 16):
        self.config, self.media_root, self.size = config, media_root, size
        self._stores: OrderedDict = OrderedDict()

    def get(self, videos: list[str]):
        from mmreward.agent.frames import FrameStore

        key = tuple(videos)
        if key in self._stores:
            self._stores.move_to_end(key)
            return self._stores[key]
        store = FrameStore(list(videos), self.config.candidate_frames, self.config.frame_max_pixels,
                           self.media_root)
        self._stores[key] = store
        if len(self._stores) > self.size:
            self._stores.popitem(last=False)[1].close()
        return store

    def close(self) -> None:
        for s in self._stores.values():
            s.close()
        self._stores.clear()
