"""What the agent recipes (sft --objective traces, rft, grpo) share: their data and agent
options, the policy loader, the items file, and a cache of open frame stores."""
from __future__ import annotations

import dataclasses
import json
import typing
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.agent.config import AgentConfig
from mmreward.errors import ConfigError, InputError


def _given_or_default(cls, leave_out: tuple[str, ...]) -> list:
    """`cls`'s fields as optional options: None means not given on the command line, so the
    --agent-config file's value (else the dataclass default, stated in the help) applies."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in leave_out:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        help = f.metadata["help"] if default is None else f"{f.metadata['help']} (default: {shown})"  # None: the help says
        out.append((f.name, hints[f.name] | None, field(default=None, metadata={**f.metadata, "help": help})))
    return out


def _to_config(self, **overrides) -> AgentConfig:
    """The AgentConfig: the --agent-config file, then the options given, then `overrides`."""
    base = {}
    if self.agent_config:
        path = Path(self.agent_config)
        try:
            base = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"--agent-config {path}: cannot be read as JSON ({exc})") from None
    base.update({k: v for k, v in dataclasses.asdict(self).items() if k != "agent_config" and v is not None})
    try:
        return AgentConfig.from_dict({**base, **overrides})
    except ValueError as exc:
        raise ConfigError(f"agent settings: {exc}") from None


# The agent settings of a training stage: they must match the ones the traces were made with and
# the agent will run with. Sampling (temperature, top-p) is the stage's own option.
AgentOptions = dataclasses.make_dataclass(
    "AgentOptions",
    [("agent_config", str | None, field(default=None, metadata={
        "help": "JSON file of agent settings (e.g. a run's agent_config.json); the options below override it"})),
     *_given_or_default(AgentConfig, leave_out=("temperature", "top_p"))],
    namespace={"_argument_group_name": "agent", "to_config": _to_config})


@dataclass
class TraceData:
    """The data of `train sft --objective traces`."""

    _argument_group_name = "data"

    traces: str = field(metadata={"help": "JSONL of agent traces (one Trace per line, e.g. `mmreward synth agent`)"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory the traces' video paths are relative to. Default: the traces file's folder"})


@dataclass
class ItemsData:
    """The data of `train rft` and `train grpo`."""

    _argument_group_name = "data"

    items: str = field(metadata={
        "help": 'JSONL of items {"id", "prompt", "videos": [a, b], "labels": {"TA", "VQ", "MQ", "OA"}}'})
    media_root: str | None = field(default=None, metadata={
        "help": "directory the items' video paths are relative to. Default: the items file's folder"})


def load_policy(model, name: str | None = None):
    """(policy, processor) from TrainModelOptions `model` (or checkpoint `name` with its options),
    loaded on CPU so that accelerate / the Trainer place it."""
    from mmreward.models.backbone import BackboneOptions, load_backbone

    opts = BackboneOptions(dtype=model.dtype, device="cpu", attn_implementation=model.attn_implementation,
                           min_pixels=model.min_pixels, max_pixels=model.max_pixels)
    policy, processor, _ = load_backbone(name or model.model, opts)
    return policy, processor


def read_items(path: str | Path) -> list[dict]:
    """Agent task items: {"id", "prompt", "videos": [a, b], "labels": {"TA", "VQ", "MQ", "OA"}}
    (strict JSON lines: `mmreward.scoring.jsonl.read_jsonl`)."""
    from mmreward.scoring.jsonl import read_jsonl

    try:
        return [item for _, item in read_jsonl(path)]
    except OSError as exc:
        raise InputError(f"items {path}: {exc}") from None


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
        store = FrameStore.for_config(list(videos), self.config, self.media_root)
        self._stores[key] = store
        if len(self._stores) > self.size:
            self._stores.popitem(last=False)[1].close()
        return store

    def close(self) -> None:
        for s in self._stores.values():
            s.close()
        self._stores.clear()
