"""What a model family declares, once, beside its code: the `Family` spec.

A family is one kind of reward model `mmreward.load` knows (the Qwen-VL reward models,
VideoReward, UnifiedReward, PickScore, combos, a remote service, ...). Its module defines

    FAMILY = Family(name="pickscore", title="PickScore", loader="mmreward.rewards.pickscore:load",
                    options=PickScoreOptions, names=("pickscore",), modes=("scalar",), catalog=(...,))

and `mmreward/registry.py` lists where the specs live. Module-level imports of a family module
stay light (no torch, no transformers): `mmreward models`, `--help` and name resolution import
every spec; the loader ("module:function") is imported only when its family is loaded, so a
missing optional extra breaks only that family.

The options dataclass is the family's whole option surface: every field an `mmreward.load`
keyword with its type, default and `metadata={"help": ...}` (the shared groups of
`mmreward.models.options` plus its own). `Family.parse_options` is the one check: an unknown
option or a value of the wrong type is one `ConfigError` line, worded the same in every family,
naming the valid options. The loader is called as `loader(name_or_path, mode, options)` with
the parsed dataclass.
"""
from __future__ import annotations

import dataclasses
import importlib
import itertools
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from mmreward.errors import ConfigError

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
#: the field of a `forwards_options` family's dataclass that receives the options not its own
FORWARDED = "forwarded"


def resolve_callable(spec: str) -> Callable:
    """"module:attribute" -> the attribute, importing the module now."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def expand(pattern: str) -> list[str]:
    """"org/model-{3b,7b}" -> ["org/model-3b", "org/model-7b"] (the catalog's notation)."""
    parts = re.split(r"\{([^{}]*)\}", pattern)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


@dataclass(frozen=True)
class Family:
    name: str  # identifier, e.g. "videoreward"
    title: str  # how messages name it, e.g. "VideoReward"
    loader: str  # "module:function", called as fn(name_or_path, mode, options)
    options: type  # the dataclass of its load options
    presets: tuple[str, ...] = ()  # `preset=NAME` / `--preset NAME` picks this family
    #: hub id -> the preset it implies (None: the family's only behaviour); case-insensitive,
    #: "{a,b}" spells alternatives ("CodeGoat24/UnifiedReward-qwen-{3b,7b}")
    hub_ids: Mapping[str, str | None] = field(default_factory=dict)
    names: tuple[str, ...] = ()  # short names; `NAME@PATH_OR_HUB_ID` loads another copy
    prefixes: tuple[str, ...] = ()  # a name starting with one is this family's ("combo:", "http://")
    detect: str | None = None  # "module:function(Path) -> bool": a local directory of this family
    default: bool = False  # the family of every name no other family claims
    modes: tuple[str, ...] | None = None  # the modes it runs in (None: its loader decides)
    forwards_options: bool = False  # options not its own go to its parts (combos), checked there
    catalog: tuple[dict, ...] = ()  # its rows of `mmreward models`

    # ------------------------------------------------------------------ names

    def hub_preset(self, name: str) -> tuple[bool, str | None]:
        """(whether `name` is one of its hub ids, the preset that id implies)."""
        name = name.lower()
        for pattern, preset in self.hub_ids.items():
            if name in (p.lower() for p in expand(pattern)):
                return True, preset
        return False, None

    def claims(self, name: str) -> bool:
        """A short name (`pickscore`, `pickscore@DIR`) or a prefix (`combo:...`) of this family."""
        if self.prefixes and name.startswith(self.prefixes):
            return True
        return any(name == short or name.startswith(f"{short}@") for short in self.names)

    # ------------------------------------------------------------------ options

    def option_fields(self) -> dict[str, tuple[Any, dataclasses.Field]]:
        """name -> (type, field) of every option, in declaration order (`FORWARDED` is not one)."""
        hints = typing.get_type_hints(self.options)
        return {f.name: (hints[f.name], f) for f in dataclasses.fields(self.options) if f.name != FORWARDED}

    def describe_options(self) -> list[dict]:
        """Each option as `mmreward models --format json` lists it: name, type, default, help."""
        out = []
        for name, (kind, f) in self.option_fields().items():
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            out.append({"name": name, "type": type_name(kind), "default": default,
                        "help": f.metadata.get("help", "")})
        return out

    def parse_options(self, given: Mapping[str, Any], text: bool = False):
        """The options dataclass from `mmreward.load` keywords (None: not given). `text`: the
        values are command-line strings, converted by each option's type."""
        fields = self.option_fields()
        values, forwarded, unknown = {}, {}, []
        for key, value in given.items():
            if value is None:
                continue
            if key in fields:
                values[key] = convert(self.title, key, value, fields[key][0], text)
            elif self.forwards_options:
                forwarded[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise ConfigError(f"{self.title} does not take {', '.join(sorted(unknown))}; its options: "
                              f"{', '.join(fields) or 'none'} (see `mmreward models --format json`)")
        if self.forwards_options:
            values[FORWARDED] = forwarded
        try:
            return self.options(**values)
        except ConfigError as exc:
            raise ConfigError(f"{self.title}: {exc}") from None
        except ValueError as exc:
            raise ConfigError(f"{self.title}: {exc}") from None

    def check_mode(self, mode: str | None) -> None:
        if mode is not None and self.modes is not None and mode not in self.modes:
            raise ConfigError(f"mode {mode!r} does not apply to {self.title}: it is a "
                              f"{' or '.join(self.modes)} model")

    # ------------------------------------------------------------------ loading

    def load(self, name_or_path, mode: str | None = None, **options):
        """The model: options checked (`parse_options`), then the name (`mmreward.names`: one line
        when it can be no model here), then the loader imported and called."""
        from mmreward.names import check_model_name

        self.check_mode(mode)
        parsed = self.parse_options(options)
        check_model_name(name_or_path)
        return resolve_callable(self.loader)(name_or_path, mode, parsed)


# ---------------------------------------------------------------------- option types

def _plain(kind):
    """`kind` without None (`int | None` -> int)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]
    return kind


def type_name(kind) -> str:
    """int, float, bool, str, "a|b" for choices, list[str]."""
    kind = _plain(kind)
    if typing.get_origin(kind) is Literal:
        return "|".join(map(str, typing.get_args(kind)))
    if typing.get_origin(kind) is list:
        return f"list[{type_name(typing.get_args(kind)[0])}]"
    return getattr(kind, "__name__", str(kind))


def convert(title: str, name: str, value, kind, text: bool = False):
    """`value` as option `name`'s type, or a ConfigError saying what it must be."""
    kind = _plain(kind)
    origin = typing.get_origin(kind)
    try:
        if origin is Literal:
            if value in typing.get_args(kind):
                return value
            if not text and not isinstance(value, (str, int, float, bool, list, tuple, dict)):
                return value  # an object in place of a name (an Engine for engine="hf" | "vllm")
        elif origin is list:
            items = value.split(",") if text and isinstance(value, str) else value
            if isinstance(items, (list, tuple)):
                return [convert(title, name, item, typing.get_args(kind)[0], text) for item in items]
        elif kind is bool:
            if isinstance(value, bool):
                return value
            if text and str(value).lower() in TRUE + FALSE:
                return str(value).lower() in TRUE
        elif kind is int:
            if text and isinstance(value, str):
                return int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind is float:
            if text and isinstance(value, str):
                return float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif kind is str:
            if isinstance(value, (str, os.PathLike)):
                return os.fspath(value)
        else:  # dicts and other structured options are taken as given
            return value
    except ValueError:
        pass
    if origin is Literal:
        raise ConfigError(f"{title}: option {name} must be one of {', '.join(map(str, typing.get_args(kind)))}, "
                          f"got {value!r}")
    raise ConfigError(f"{title}: option {name} must be {type_name(kind)}, got {value!r}")
