"""Command lines generated from config dataclasses, with `--config FILE.yaml|json`.

A command is a `Command`: the dataclasses that hold its options and the function
that runs with one instance of each. Flags come from the dataclass fields
(`transformers.HfArgumentParser`: `--field-name` and `--field_name`, the help text
from `field(metadata={"help": ...})`, the real default shown by `--help`, choices
from `Literal`, aliases from `metadata={"aliases": [...]}`).

`--config FILE` reads a YAML or JSON mapping of option names (dashes or
underscores) to values; flags on the command line override it. The file's values
are turned into flags and parsed before the command line's, so they are checked
and converted exactly as typed flags are, and the later (command-line) flag wins.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from mmreward.errors import ConfigError

CONFIG_FLAG = "--config"


@dataclass(frozen=True)
class Command:
    configs: tuple[type, ...]  # dataclasses; `run` gets one instance of each, in this order
    run: Callable[..., int | None] | None = None
    description: str | None = None
    epilog: str | None = None


def _shows_default(action) -> bool:
    default = action.default
    return bool(action.option_strings) and not (default is None or default is False
                                                 or default is argparse.SUPPRESS)


def _shown(default) -> str:
    return " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The real default after each option's help (unless the help states it), descriptions as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not _shows_default(action) or "default" in text.lower():
            return text
        return f"{text} (default: {_shown(action.default)})"

    def _format_action_invocation(self, action):
        # `--media-root` also answers to `--media_root`; the help shows the dashed spellings only
        dashed = [o for o in action.option_strings if "_" not in o]
        if dashed and len(dashed) < len(action.option_strings):
            action = argparse.Action(dashed, action.dest, nargs=action.nargs, metavar=action.metavar,
                                     choices=action.choices)
        return super()._format_action_invocation(action)


def _dashed_first(parser: argparse.ArgumentParser) -> None:
    """`--media-root` before `--media_root` in usage and help (both are accepted)."""
    for action in parser._actions:
        if len(action.option_strings) > 1:
            action.option_strings.sort(key=lambda o: "_" in o)
        if action.nargs == "?" and action.const is True:  # HfArgumentParser's bool flags
            action.metavar = "{true,false}"
        if not action.help and action.option_strings and _shows_default(action):
            action.help = f"(default: {_shown(action.default)})"  # argparse skips help-less options


def _hf_argument_parser() -> type:
    """transformers' `HfArgumentParser`, if possible without `import transformers`: its module needs
    only the standard library and yaml, while importing the package costs seconds that every
    `--help` and every refused argument would pay first. Loaded from its file under a private
    name; the package import where that fails (or where transformers is imported already)."""
    if "transformers" not in sys.modules:
        try:
            spec = importlib.util.find_spec("transformers")
            path = Path(spec.origin).with_name("hf_argparser.py")
            module_spec = importlib.util.spec_from_file_location("mmreward._hf_argparser", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module.HfArgumentParser
        except Exception:  # noqa: BLE001 - another layout of transformers: the ordinary import below
            pass
    from transformers import HfArgumentParser

    return HfArgumentParser


HELP_ALL = "--help-all"


def build_parser(command: Command, prog: str, show_all: bool = False) -> argparse.ArgumentParser:
    HfArgumentParser = _hf_argument_parser()  # noqa: N806 - the class, under its own name

    description = command.description
    if description and "\n" not in description:  # one paragraph: wrap it; otherwise keep the layout
        description = textwrap.fill(description, 90)
    parser = HfArgumentParser(list(command.configs), prog=prog, description=description,
                              epilog=command.epilog, formatter_class=HelpFormatter)
    parser.add_argument(CONFIG_FLAG, metavar="FILE", default=None,
                        help="YAML or JSON file of this command's options (keys: option names, - or _); "
                             "flags on the command line override it")
    _dashed_first(parser)
    for kind in command.configs:
        for name in getattr(kind, "_positional", ()):
            _make_positional(parser, name)
    _brief(parser, command, show_all)
    return parser


def _brief(parser: argparse.ArgumentParser, command: Command, show_all: bool) -> None:
    """Commands whose configs hold many options of a library's (a config with `help_all_only()`, such
    as the Trainer's): `--help` shows the command's own options, `--help-all` every option, those
    last in their own group; the usage line names only the required options (a usage error is two
    lines, not a page)."""
    brief = [kind for kind in command.configs if hasattr(kind, "help_all_only")]
    if not brief:
        return
    hidden = set().union(*(kind.help_all_only() for kind in brief))
    group = parser.add_argument_group("all other options of transformers.TrainingArguments") if hidden else None
    for action in parser._actions:
        if action.dest not in hidden:
            continue
        for other in parser._action_groups:
            if action in other._group_actions:
                other._group_actions.remove(action)
        group._group_actions.append(action)
        if not show_all:
            action.help = argparse.SUPPRESS
    for action in parser._actions:
        if action.choices and len(action.choices) > 12:  # e.g. --optim: 40 names, listed by --help-all
            action.metavar = action.metavar or "NAME"
    if hidden:
        parser.add_argument(HELP_ALL, action="help", help="show every option, the Trainer's too")
    required = " ".join(f"{min(a.option_strings, key=len)} {a.metavar or a.dest.upper()}" for a in parser._actions
                        if a.required and a.option_strings)
    more = f", {HELP_ALL}: all of them" if hidden else ""
    parser.usage = f"%(prog)s {required} [options]   (--help: the options{more})"


def _make_positional(parser: argparse.ArgumentParser, dest: str) -> None:
    """Replace the `--dest` option HfArgumentParser made with a positional argument of that name."""
    action = next(a for a in parser._actions if a.dest == dest)
    for group in parser._action_groups:
        if action in group._group_actions:
            group._group_actions.remove(action)
            container = group
    parser._actions.remove(action)
    for opt in action.option_strings:
        parser._option_string_actions.pop(opt, None)
    container.add_argument(dest, type=action.type, help=action.help, metavar=dest.upper())


def read_config_file(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--config {path!r}: no such file")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise ConfigError(f"--config {path!r}: not valid {file.suffix.lstrip('.') or 'JSON'} ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path!r}: expected a mapping of option names to values, "
                          f"got {type(data).__name__}")
    return data


def config_file_flags(path: str, parser: argparse.ArgumentParser) -> list[str]:
    """The file's options as command-line tokens, checked against the parser's options."""
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    for action in list(actions.values()):  # other flag names are keys too (`lr` for learning_rate)
        for option in action.option_strings:
            actions.setdefault(option.lstrip("-").replace("-", "_"), action)
    tokens: list[str] = []
    for key, value in read_config_file(path).items():
        dest = str(key).replace("-", "_")
        action = actions.get(dest)
        if action is None or dest == "config":
            known = ", ".join(sorted(d for d in actions if d != "config"))
            raise ConfigError(f"--config {path!r}: unknown option {key!r} (options: {known})")
        if value is None:
            continue
        flag = f"--{dest}"
        if isinstance(value, bool):
            tokens += [flag, _text(value)]
        elif isinstance(value, (list, tuple)):
            if action.nargs not in ("+", "*"):
                raise ConfigError(f"--config {path!r}: option {key!r} takes one value, got a list")
            tokens += [flag, *(str(v) for v in value)]
        elif isinstance(value, dict):  # KEY=VALUE items (--model-option) may be given as a mapping
            if action.nargs not in ("+", "*"):
                raise ConfigError(f"--config {path!r}: option {key!r} takes a value, not a mapping")
            tokens += [flag, *(f"{k}={_text(v)}" for k, v in value.items())]
        else:
            tokens += [flag, str(value)]
    return tokens


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parse(command: Command, argv: list[str], prog: str) -> list:
    """argv -> one instance of each of the command's dataclasses.

    Bad flags exit 2 with argparse's usage message; a bad value caught by a
    dataclass's own checks (`__post_init__` raising ValueError) is a ConfigError.
    """
    parser = build_parser(command, prog, show_all=HELP_ALL in argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument(CONFIG_FLAG, default=None)
    known, _ = pre.parse_known_args(argv)
    tokens = config_file_flags(known.config, parser) if known.config else []
    namespace = parser.parse_args(tokens + list(argv))
    values = vars(namespace)
    out = []
    for kind in command.configs:
        names = {f.name for f in dataclasses.fields(kind) if f.init}
        try:
            out.append(kind(**{k: v for k, v in values.items() if k in names}))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return out


def parse_script(config: type, description: str | None = None, argv: list[str] | None = None):
    """A script's (benchmarks/) options: the same generated CLI, one dataclass, `sys.argv` by default."""
    command = Command(configs=(config,), description=description)
    try:
        return parse(command, sys.argv[1:] if argv is None else argv, prog=Path(sys.argv[0]).name)[0]
    except ConfigError as exc:
        raise SystemExit(f"{Path(sys.argv[0]).name}: {exc}") from None
