"""Combined rewards: one reward model that is the weighted sum of any loadable reward models.

    mmreward.load("combo:pickscore=1,ocr=0.5")
    mmreward.load("combo:rewards.yaml")          # or .json

A spec file lists the components, each with its own load options:
    components:
      - {model: pickscore, weight: 1.0}
      - {model: "hpsv2@/ckpt/HPS_v2_compressed.pt", weight: 2.0, name: hps}
      - {model: ocr, weight: 0.5, options: {threads: 2}}
or is the short mapping `{pickscore: 1.0, ocr: 0.5}`. A component is anything
`mmreward.load` takes (a named reward, a Qwen-VL checkpoint, a remote service, a
combo file that does not contain this one), loaded with the combo's own options
(device, dtype, mode, ...) updated by its `options`.

Output per record: `rewards` = sum_k weight_k * rewards_k per candidate (the way
Flow-GRPO's `multi_score` combines its rewards), `dimensions` = each component's
own rewards under its name (and a component's own dimensions as "name/dim"),
`preferred` = argmax of the sum. A record that any component cannot score is an
error line naming the component.
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.errors import ConfigError, InputError
from mmreward.scoring.base import BaseRewardModel

PREFIX = "combo:"
#: the spec files being loaded, outermost first: a file among them that names itself again is a cycle
_LOADING: ContextVar[tuple[Path, ...]] = ContextVar("combo_files_loading", default=())


@dataclass
class Component:
    model: str
    weight: float = 1.0
    name: str = ""
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"combo component {self.model!r}: 'model' must be a non-empty string")
        try:
            self.weight = float(self.weight)
        except (TypeError, ValueError):
            raise ConfigError(f"combo component {self.model!r}: weight {self.weight!r} is not a number") from None
        if not math.isfinite(self.weight):
            raise ConfigError(f"combo component {self.model!r}: weight must be finite, got {self.weight}")
        if not isinstance(self.options, dict):
            raise ConfigError(f"combo component {self.model!r}: 'options' must be a mapping")
        self.name = self.name or self.model


def parse_inline(text: str) -> list[Component]:
    """"pickscore=1,ocr=0.5" (a missing "=WEIGHT" means 1)."""
    parts = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise ConfigError(f"combo spec {text!r}: empty component (expected NAME=WEIGHT,NAME=WEIGHT)")
        model, sep, weight = item.rpartition("=")
        parts.append(Component(model.strip(), weight.strip()) if sep else Component(item))
    return parts


def parse_file(path: Path) -> list[Component]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"combo spec {str(path)!r}: cannot read it ({exc})") from None
    try:
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"combo spec {str(path)!r}: not valid {path.suffix[1:].upper()} ({exc})") from None
    if isinstance(spec, dict) and "components" in spec:
        spec = spec["components"]
    if isinstance(spec, dict):
        return [Component(str(model), weight) for model, weight in spec.items()]
    if not isinstance(spec, list):
        raise ConfigError(f"combo spec {str(path)!r}: expected a list of components or a mapping name: weight")
    comps = []
    for n, entry in enumerate(spec):
        if not isinstance(entry, dict) or set(entry) - {"model", "weight", "name", "options"}:
            raise ConfigError(f"combo spec {str(path)!r}: component {n} must be a mapping with keys "
                              "model, weight, name, options")
        comps.append(Component(**entry))
    return comps


def parse_spec(name: str) -> list[Component]:
    body = str(name)[len(PREFIX):] if str(name).startswith(PREFIX) else str(name)
    path = Path(body).expanduser()
    if body.endswith((".yaml", ".yml", ".json")):
        if not path.is_file():
            raise InputError(f"combo spec file {body!r} not found")
        comps = parse_file(path)
    else:
        comps = parse_inline(body)
    if not comps:
        raise ConfigError(f"combo spec {body!r} has no components")
    names = [c.name for c in comps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"combo spec {body!r}: component name(s) {', '.join(dupes)} appear twice; "
                          "give them distinct 'name's in a spec file")
    return comps


class Combo(BaseRewardModel):
    kind = "combo"

    def __init__(self, members: list[tuple[Component, BaseRewardModel]], name: str = "combo"):
        self.members, self.name = members, name

    @property
    def info(self) -> dict:
        return {**super().info, "dimensions": [c.name for c, _ in self.members],
                "components": [{"name": c.name, "weight": c.weight, **m.info} for c, m in self.members]}

    def combine(self, rid, outs: list[dict]) -> dict:
        errors = [f"{c.name}: {o['error']}" for (c, _), o in zip(self.members, outs) if "error" in o]
        if errors:
            return {"id": rid, "error": "; ".join(errors)}
        lengths = {len(o["rewards"]) for o in outs}
        if len(lengths) != 1:  # a component that answers a different number of candidates is a bug
            raise RuntimeError(f"combo components returned different candidate counts {sorted(lengths)} for {rid!r}")
        total = [sum(c.weight * o["rewards"][j] for (c, _), o in zip(self.members, outs))
                 for j in range(lengths.pop())]
        dims = {}
        for (c, _), o in zip(self.members, outs):
            dims[c.name] = list(o["rewards"])
            for dim, values in (o.get("dimensions") or {}).items():
                dims[f"{c.name}/{dim}"] = values
        return {"id": rid, "rewards": total, "preferred": max(range(len(total)), key=total.__getitem__),
                "dimensions": dims}

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        per_member = [model.score_chunk(records, media_root, batch_size) for _, model in self.members]
        return [self.combine(rec.get("id") if isinstance(rec, dict) else None, [outs[i] for outs in per_member])
                for i, rec in enumerate(records)]


@contextmanager
def _loading(name: str):
    """Enter the spec file `name` names (if any); a file already being loaded is a cycle."""
    body = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if not body.endswith((".yaml", ".yml", ".json")):
        yield
        return
    path = Path(body).expanduser().resolve()
    chain = _LOADING.get()
    if path in chain:
        names = " -> ".join(p.name for p in (*chain[chain.index(path):], path))
        raise ConfigError(f"combo spec {body!r} names itself ({names}); a combo cannot contain itself")
    token = _LOADING.set((*chain, path))
    try:
        yield
    finally:
        _LOADING.reset(token)


def load(name_or_path: str, mode: str | None = None, **options) -> Combo:
    import mmreward

    members = []
    with _loading(str(name_or_path)):
        for comp in parse_spec(name_or_path):
            part = {**options, **comp.options}  # a part's own options win, `mode` included
            part_mode = part.pop("mode", mode)
            if part_mode not in (None, "scalar", "generative"):
                raise ConfigError(f"combo component {comp.name!r}: mode must be 'scalar' or 'generative', "
                                  f"got {part_mode!r}")
            members.append((comp, mmreward.load(comp.model, part_mode, **part)))
    return Combo(members, str(name_or_path))
