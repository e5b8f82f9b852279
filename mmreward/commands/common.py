"""What the commands that load a reward model share: the `judging` options group (with every
model family's own options, generated from the registry) and `load_model`."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import field
from pathlib import Path
from typing import Optional

from mmreward.errors import ConfigError, InputError
from mmreward.models.options import (JudgingOptions, MediaCapOptions, ModelOptions, Options, TokenBudgetOptions,
                                     compose)


def check_model(model: ModelOptions) -> None:
    """A model name that can be no model here is a one-line error before anything heavy is imported."""
    from mmreward.names import check_model_name

    check_model_name(model.model)


def family_fields(taken: set[str]) -> list[tuple]:
    """(name, type, field) of every option of every model family not in `taken`: typed by its
    families (str when they disagree), None by default (the family's own default), its help
    naming the families that take it."""
    from mmreward.families import type_name
    from mmreward.registry import families

    found: dict[str, list] = {}
    for fam in families():
        for name, (kind, f) in fam.option_fields().items():
            if name not in taken:
                found.setdefault(name, []).append((fam, kind, f))
    out = []
    for name, entries in found.items():
        kinds = {type_name(kind) for _, kind, _ in entries}
        kind = Optional[entries[0][1] if len(kinds) == 1 else str]
        helps = []
        for fam, _, f in entries:
            default = "" if f.default in (None, dataclasses.MISSING) else f" (default: {f.default})"
            helps.append(f"{fam.title}: {f.metadata.get('help', '')}{default}")
        out.append((name, kind, field(default=None, metadata={"help": "; ".join(helps)})))
    return out


@functools.cache
def judge_options(*others: type) -> type:
    """The `judging` group of a command whose other groups are ModelOptions and `others`: how
    a loaded model judges records, the media caps, the token budgets, then every other option
    of every model family. A name another group of the command holds stays that group's (and is
    reachable with `--model-option KEY=VALUE`)."""
    groups = (JudgingOptions, MediaCapOptions, TokenBudgetOptions)
    taken = {f.name for group in (ModelOptions, *groups, *others) for f in dataclasses.fields(group)}
    return compose("JudgeOptions", *groups, last=tuple(family_fields(taken)), group="judging",
                   doc="How a loaded model judges records, and each model family's own options.",
                   methods={"load_kwargs": Options.given})


JudgeOptions = judge_options()


def model_options(model: ModelOptions) -> dict:
    """`--model-option KEY=VALUE` pairs, typed by the family `--model` (and `--preset`) go to."""
    from mmreward.families import convert
    from mmreward.registry import families, resolve

    if not model.model_option:
        return {}
    fam, _ = resolve(model.model, model.preset)
    fields = fam.option_fields()
    if fam.forwards_options:  # a combo's parts: typed as the families that take the option type it
        fields = {**{k: v for f in reversed(families()) for k, v in f.option_fields().items()}, **fields}
    out = {}
    for item in model.model_option:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--model-option {item!r}: expected KEY=VALUE")
        if key not in fields:
            fam.parse_options({key: value})  # the family's own message: what it takes
        out[key] = convert(fam.title, key, value, fields[key][0], text=True) if key in fields else value
    return out


def load_kwargs(model: ModelOptions, judge=None, **extra) -> dict:
    """The keyword arguments of `mmreward.load` the command line gave: the model group, the
    judging group (family options included), `--model-option` pairs; `extra` wins."""
    return {**model.load_kwargs(), **(judge.load_kwargs() if judge else {}), **model_options(model), **extra}


def load_model(model: ModelOptions, judge=None, **extra):
    """`mmreward.load` with these options; `extra` (e.g. the process's device) wins over them."""
    import mmreward

    return mmreward.load(model.model, model.mode, **load_kwargs(model, judge, **extra))


def read_records(path: str, flag: str) -> list:
    """Every line of the JSONL file `path` (the value of `flag`): its record, or the RecordError
    that makes it unusable. A missing file is refused before any model loads."""
    from mmreward.scoring.score_file import read_records as read

    if not Path(path).is_file():
        raise InputError(f"{flag} {path!r}: no such file")
    return read(path)
