"""Where the model families live, and which one a name goes to: `mmreward.load`.

`FAMILIES` lists the `mmreward.families.Family` spec of every family ("module:ATTRIBUTE"), in
the order `mmreward models` shows them and directories are recognised. Adding a family is its
own module (code + `FAMILY` spec) and one line here. Specs are imported on first use; their
modules are light, and a family's loader is imported only when that family loads.

Resolution (first match wins; `resolve`):
1. `preset=NAME`, or a hub id a family names (case-insensitive) -> that family (and preset);
2. a family's prefix (`combo:`, `http://`) or short name (`pickscore`, `pickscore@DIR`);
3. a local directory a family's `detect` recognises (VideoReward, Skywork);
4. otherwise the default family: the Qwen-VL reward models (`tiny`, a directory, a hub id).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from mmreward.errors import ConfigError
from mmreward.families import Family, resolve_callable

FAMILIES = (
    "mmreward.presets.videoreward:FAMILY",
    "mmreward.presets.unifiedreward:FAMILY",
    "mmreward.presets.skywork:FAMILY",
    "mmreward.presets.vrthinker:FAMILY",
    "mmreward.rewards.clipscore:FAMILY",
    "mmreward.rewards.pickscore:FAMILY",
    "mmreward.rewards.hpsv2:FAMILY",
    "mmreward.rewards.aesthetic:FAMILY",
    "mmreward.rewards.ocr:FAMILY",
    "mmreward.rewards.hpsv3:FAMILY",
    "mmreward.rewards.imagereward:FAMILY",
    "mmreward.rewards.vqascore:FAMILY",
    "mmreward.rewards.combo:FAMILY",
    "mmreward.serve.remote:FAMILY",
    "mmreward.qwen_vl:FAMILY",
)


@functools.cache
def families() -> tuple[Family, ...]:
    return tuple(resolve_callable(spec) for spec in FAMILIES)


def family(name: str) -> Family:
    """A family by its `name` ("videoreward", "qwen-vl", ...)."""
    for fam in families():
        if fam.name == name:
            return fam
    raise ConfigError(f"unknown model family {name!r}; known: {', '.join(f.name for f in families())}")


def resolve(name_or_path, preset: str | None = None) -> tuple[Family, str | None]:
    """(the family that loads `name_or_path`, the preset it runs)."""
    name = os.fspath(name_or_path)
    if preset is not None:
        for fam in families():
            if preset in fam.presets:
                return fam, preset
        known = sorted(p for fam in families() for p in fam.presets)
        raise ConfigError(f"unknown preset {preset!r}; known presets: {', '.join(known) or 'none'}")
    for fam in families():
        found, implied = fam.hub_preset(name)
        if found:
            return fam, implied
    for fam in families():
        if fam.claims(name):
            return fam, None
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        for fam in families():
            if fam.detect and resolve_callable(fam.detect)(path):
                return fam, None
    return next(fam for fam in families() if fam.default), None


def load(name_or_path="tiny", mode: str | None = None, *, preset: str | None = None, **options):
    """Load a reward model by name, directory or hub id (docs/architecture.md, "Loading"): the
    family `resolve` picks checks the options against its dataclass, then loads."""
    fam, preset = resolve(name_or_path, preset)
    if preset is not None:  # one family may run several presets (e.g. a "-think" variant)
        options["preset"] = preset
    return fam.load(name_or_path, mode, **options)


# ---------------------------------------------------------------------- what other modules ask

def find_loader(name_or_path, preset: str | None = None):
    """The loader function of the family `name_or_path` goes to (imported now)."""
    return resolve_callable(resolve(name_or_path, preset)[0].loader)


def preset_for(name_or_path) -> str | None:
    """The preset a released model's hub id implies (None: none)."""
    for fam in families():
        found, implied = fam.hub_preset(os.fspath(name_or_path))
        if found:
            return implied
    return None


def catalog() -> list[dict]:
    """What `mmreward models` lists: one row per known model, with keys "name" (hub id or short
    name), "backbone", "kind", "outputs", "needs", "use" (the command line), "family"."""
    return [{**row, "family": fam.name} for fam in families() for row in fam.catalog]


def __getattr__(name):
    if name == "CATALOG":  # computed on first use: importing the registry imports no family
        return catalog()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
