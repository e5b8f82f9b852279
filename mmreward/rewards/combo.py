"""Combined rewards: one reward model that is the weighted sum (or mean) of any loadable reward models.

    mmreward.load("combo:pickscore=1,ocr=0.5")
    mmreward.load("combo:rewards.yaml")          # or .json
    mmreward.load("combo:runs/bt-seed0,runs/bt-seed1", reduce="mean", zscore=True)   # an ensemble
    Combo.of([rm0, rm1], reduce="mean", zscore=True)                                 # of loaded models

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
Flow-GRPO's `multi_score` combines its rewards; `reduce="mean"`: divided by the sum of the
weights), `dimensions` = each component's own rewards under its name (and a component's own
dimensions as "name/dim"; with "mean", also the mean of the dimensions every component has,
under their own names), `preferred` = the candidate with the highest total (null on a tie).
`zscore=True` puts components on one scale first: each one's rewards are z-scored over the
records scored together (one chunk of up to `ZSCORE_CHUNK` records). A record that any
component cannot score is an error line naming the component. `reduce` and `zscore` may also
be keys of a spec file beside `components`; options the combo does not take go to every part.
"""
from __future__ import annotations

import json
import math
import statistics
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmreward.errors import ConfigError, InputError
from mmreward.families import FORWARDED, Family
from mmreward.models.options import Options
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.outputs import scored

PREFIX = "combo:"
#: the spec files being loaded, outermost first: a file among them that names itself again is a cycle
_LOADING: ContextVar[tuple[Path, ...]] = ContextVar("combo_files_loading", default=())
ZSCORE_CHUNK = 64  # records z-scored together (each part scores them in one chunk)


@dataclass
class ComboOptions(Options):
    reduce: Literal["sum", "mean"] | None = field(default=None, metadata={
        "help": "sum: the weighted sum (Flow-GRPO's multi_score); mean: divided by the sum of the weights "
                "(an ensemble). Default: the spec file's, else sum"})
    zscore: bool | None = field(default=None, metadata={
        "help": "z-score each part's rewards over the records scored together before combining "
                "(default: the spec file's, else false)"})
    forwarded: dict = field(default_factory=dict)  # the parts' options (`Family.forwards_options`)


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


def parse_file(path: Path) -> tuple[list[Component], dict]:
    """(components, the file's combo settings: reduce, zscore)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"combo spec {str(path)!r}: cannot read it ({exc})") from None
    try:
        spec = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"combo spec {str(path)!r}: not valid {path.suffix[1:].upper()} ({exc})") from None
    settings = {}
    if isinstance(spec, dict) and "components" in spec:
        settings = {k: v for k, v in spec.items() if k != "components"}
        unknown = sorted(set(settings) - {"reduce", "zscore"})
        if unknown:
            raise ConfigError(f"combo spec {str(path)!r}: unknown key(s) {', '.join(unknown)} "
                              "(a spec holds components, reduce, zscore)")
        spec = spec["components"]
    if isinstance(spec, dict):
        return [Component(str(model), weight) for model, weight in spec.items()], settings
    if not isinstance(spec, list):
        raise ConfigError(f"combo spec {str(path)!r}: expected a list of components or a mapping name: weight")
    comps = []
    for n, entry in enumerate(spec):
        if not isinstance(entry, dict) or set(entry) - {"model", "weight", "name", "options"}:
            raise ConfigError(f"combo spec {str(path)!r}: component {n} must be a mapping with keys "
                              "model, weight, name, options")
        comps.append(Component(**entry))
    return comps, settings


def parse_spec(name: str) -> tuple[list[Component], dict]:
    """(components, the spec file's settings) of `combo:...`."""
    body = str(name)[len(PREFIX):] if str(name).startswith(PREFIX) else str(name)
    path = Path(body).expanduser()
    settings = {}
    if body.endswith((".yaml", ".yml", ".json")):
        if not path.is_file():
            raise InputError(f"combo spec file {body!r} not found")
        comps, settings = parse_file(path)
    else:
        comps = parse_inline(body)
    if not comps:
        raise ConfigError(f"combo spec {body!r} has no components")
    names = [c.name for c in comps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"combo spec {body!r}: component name(s) {', '.join(dupes)} appear twice; "
                          "give them distinct 'name's in a spec file")
    return comps, settings


def zscored(outs: list[dict]) -> list[dict]:
    """A part's outputs with its rewards z-scored over all the candidates they hold."""
    values = [r for o in outs if "rewards" in o for r in o["rewards"]]
    if len(values) < 2:
        return outs
    mean, sd = statistics.fmean(values), statistics.pstdev(values) or 1.0
    return [dict(o, rewards=[(r - mean) / sd for r in o["rewards"]]) if "rewards" in o else o for o in outs]


class Combo(BaseRewardModel):
    kind = "combo"

    def __init__(self, members: list[tuple[Component, BaseRewardModel]], name: str = "combo",
                 reduce: str = "sum", zscore: bool = False):
        if reduce not in ("sum", "mean"):
            raise ConfigError(f"combo reduce must be sum or mean, got {reduce!r}")
        if not members:
            raise ConfigError("a combo needs at least one component")
        self.members, self.name, self.reduce, self.zscore = members, name, reduce, bool(zscore)

    @classmethod
    def of(cls, models: list[BaseRewardModel], weights: list[float] | None = None, names: list[str] | None = None,
           reduce: str = "sum", zscore: bool = False) -> Combo:
        """A combo of models already loaded (`names` default: each model's `info["name"]`)."""
        weights = weights or [1.0] * len(models)
        names = names or [m.info["name"] for m in models]
        if len(set(names)) != len(names):
            names = [f"{n}#{i}" for i, n in enumerate(names)]
        comps = [Component(n, w, n) for n, w in zip(names, weights)]
        return cls(list(zip(comps, models)), "combo", reduce, zscore)

    @property
    def info(self) -> dict:
        return {**super().info, "dimensions": [c.name for c, _ in self.members], "reduce": self.reduce,
                "zscore": self.zscore,
                "components": [{"name": c.name, "weight": c.weight, **m.info} for c, m in self.members]}

    def chunk_size(self, batch_size: int) -> int:
        return max(batch_size, ZSCORE_CHUNK) if self.zscore else max(1, batch_size)

    def combine(self, rid, outs: list[dict]) -> dict:
        errors = [f"{c.name}: {o['error']}" for (c, _), o in zip(self.members, outs) if "error" in o]
        if errors:
            return {"id": rid, "error": "; ".join(errors)}
        lengths = {len(o["rewards"]) for o in outs}
        if len(lengths) != 1:  # a component that answers a different number of candidates is a bug
            raise RuntimeError(f"combo components returned different candidate counts {sorted(lengths)} for {rid!r}")
        weights = [c.weight for c, _ in self.members]
        scale = 1.0 if self.reduce == "sum" else 1.0 / (sum(weights) or 1.0)
        total = [scale * sum(w * o["rewards"][j] for w, o in zip(weights, outs)) for j in range(lengths.pop())]
        dims = {}
        for (c, _), o in zip(self.members, outs):
            dims[c.name] = list(o["rewards"])
            for dim, values in (o.get("dimensions") or {}).items():
                dims[f"{c.name}/{dim}"] = values
        if self.reduce == "mean":  # an ensemble's dimensions: the mean of those every part has
            shared = set.intersection(*(set(o.get("dimensions") or {}) for o in outs))
            for dim in sorted(shared):
                dims[dim] = [statistics.fmean(col) for col in zip(*(o["dimensions"][dim] for o in outs))]
        return {"id": rid, **scored(total, dims)}

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        per_member = [model.score_chunk(records, media_root, batch_size) for _, model in self.members]
        if self.zscore:
            per_member = [zscored(outs) for outs in per_member]
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


def load(name_or_path: str, mode: str | None, options: ComboOptions) -> Combo:
    import mmreward

    comps, settings = parse_spec(name_or_path)
    reduce = options.reduce or settings.get("reduce") or "sum"
    zscore = options.zscore if options.zscore is not None else settings.get("zscore", False)
    members = []
    with _loading(str(name_or_path)):
        for comp in comps:
            part = {**getattr(options, FORWARDED), **comp.options}  # a part's own options win, `mode` included
            part_mode = part.pop("mode", mode)
            if part_mode not in (None, "scalar", "generative"):
                raise ConfigError(f"combo component {comp.name!r}: mode must be 'scalar' or 'generative', "
                                  f"got {part_mode!r}")
            members.append((comp, mmreward.load(comp.model, part_mode, **part)))
    return Combo(members, str(name_or_path), reduce, zscore)


FAMILY = Family(
    name="combo", title="combo", loader="mmreward.rewards.combo:load", options=ComboOptions,
    prefixes=(PREFIX,), forwards_options=True,
    catalog=({"name": "combo:NAME=W,NAME=W", "backbone": "any loadable reward models",
              "kind": "weighted sum (or mean: an ensemble)",
              "outputs": "rewards = the weighted sum (or mean), dimensions = each part", "needs": "what its parts need",
              "use": "mmreward score --model combo:pickscore=1,ocr=0.5 --input IN --output OUT"},),
)
