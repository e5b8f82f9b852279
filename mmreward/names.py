"""What a model name the user gave is, and when it can be nothing, one line that says so.

`mmreward.load(NAME)` takes a preset, a registered name (`tiny`, `pickscore`, `combo:...`, a
service URL, ...), a local directory or a hub id (ORG/NAME). A mistyped name used to reach
`from_pretrained` and fail there, after the hub's retries, with a message about the hub and
not about the name. `check_model_name` decides from what is on this machine, at once and
without importing torch, whether the name can be any of these; when it cannot, the error
names what was given, what it is not, and the closest names known here (registered names,
the released models' and backbones' hub ids, hub ids in the local cache, files beside a
mistyped path). A well-formed hub id that is not cached is left to the hub, unless the hub
may not be asked (`HF_HUB_OFFLINE=1`).
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from mmreward.errors import ModelNotFoundError

# the Qwen-VL backbones (mmreward.models.backbone.MODEL_CLASSES) as their makers publish them
# (hub collections Qwen/qwen2-vl, Qwen/qwen25-vl, Qwen/qwen3-vl): the usual `--model` of a new user
BACKBONE_HUB_IDS = (
    *(f"Qwen/Qwen2-VL-{s}-Instruct" for s in ("2B", "7B", "72B")),
    *(f"Qwen/Qwen2.5-VL-{s}-Instruct" for s in ("3B", "7B", "32B", "72B")),
    *(f"Qwen/Qwen3-VL-{s}-{k}" for s in ("2B", "4B", "8B", "32B") for k in ("Instruct", "Thinking")),
)
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # the hub's ORG/NAME
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
CLOSEST = 3


def offline() -> bool:
    """Whether the hub may not be asked (huggingface_hub's own switches)."""
    return any(os.environ.get(k, "").upper() in ("1", "ON", "YES", "TRUE") for k in OFFLINE_ENV)


def known_names() -> list[str]:
    """Every name this installation loads without a directory: registered names and presets, the
    released models' and the backbones' hub ids, and hub ids in the local cache."""
    from mmreward.families import expand
    from mmreward.models.tiny import TINY_NAMES
    from mmreward.registry import families

    names = [*TINY_NAMES]
    for fam in families():
        names += [*fam.names, *fam.presets, *(n for pattern in fam.hub_ids for n in expand(pattern))]
        names += [n for row in fam.catalog for n in expand(row["name"]) if "=" not in n and " " not in n]
    names += [*BACKBONE_HUB_IDS, *cached_hub_ids()]
    return list(dict.fromkeys(names))


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_hub_ids() -> list[str]:
    """Model repos in the local hub cache (its `models--ORG--NAME` directories)."""
    try:
        entries = os.listdir(_hub_cache())
    except OSError:
        return []
    return sorted(e[len("models--"):].replace("--", "/", 1) for e in entries if e.startswith("models--"))


def is_cached(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    if not re.match(r"^[\w.-]+(/[\w.-]+)?$", hub_id):  # not even a repo id: nothing to look up
        return False
    return isinstance(try_to_load_from_cache(hub_id, "config.json", cache_dir=_hub_cache()), str)


def registered(name: str) -> bool:
    """A name that is no directory and no hub id: `tiny`, a named reward, `combo:`, a URL, ..."""
    from mmreward.models.tiny import TINY_NAMES
    from mmreward.registry import families

    return name in TINY_NAMES or any(fam.claims(name) for fam in families())


def closest(name: str, candidates: list[str]) -> list[str]:
    """Up to CLOSEST candidates that look like `name` (case-insensitive)."""
    by_lower = {c.lower(): c for c in candidates}
    return [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), CLOSEST, 0.6)]


def _suffix(matches: list[str]) -> str:
    return f"; closest: {', '.join(matches)}" if matches else "; see `mmreward models` for the names it knows"


def check_model_name(name) -> None:
    """Raise ModelNotFoundError when `name` can be no loadable model here (see the module doc)."""
    name = str(name)
    if registered(name):
        return
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        return
    if path.exists():
        raise ModelNotFoundError(f"model {name!r} is a file, not a checkpoint directory, a preset, a registered "
                                 f"name or a hub id{_suffix(closest(name, known_names()))}")
    if _looks_like_path(name):
        siblings = [str(path.parent / p) for p in _listdir(path.parent)]
        raise ModelNotFoundError(f"model {name!r}: no such checkpoint directory{_suffix(closest(name, siblings))}")
    if not HUB_ID.match(name):
        if is_cached(name):  # an old ORG-less hub id (gpt2-style) that was downloaded before
            return
        raise ModelNotFoundError(
            f"model {name!r} is not a preset, a registered name, a local directory or a hub id (hub ids are "
            f"ORG/NAME){_suffix(closest(name, known_names()))}")
    if offline() and not is_cached(name):
        known = known_names()
        if name.lower() in map(str.lower, known):
            raise ModelNotFoundError(f"model {name!r} is not in the local hub cache and the hub may not be asked "
                                     "(HF_HUB_OFFLINE=1): download it once online, or give its directory")
        raise ModelNotFoundError(
            f"model {name!r} is not a preset, a registered name, a local directory or a hub id in the local "
            f"cache, and the hub may not be asked (HF_HUB_OFFLINE=1){_suffix(closest(name, known))}")


def _looks_like_path(name: str) -> bool:
    from mmreward.models.backbone import looks_like_path

    return looks_like_path(name)


def _listdir(directory: Path) -> list[str]:
    try:
        return os.listdir(directory if str(directory) else ".")
    except OSError:
        return []
