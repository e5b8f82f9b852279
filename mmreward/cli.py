"""The `mmreward` console script.

Each command is a module (or a "module:ATTRIBUTE") that holds either a `COMMAND`
(`mmreward.commands.parsing.Command`: its config dataclasses and its run
function) or a `SUBCOMMANDS` table of the same shape as `COMMANDS` below
(`train STAGE`, `eval ACTION`, `synth TASK`). Modules are imported only when
their command runs, so `mmreward --help` stays fast and a missing optional
dependency only breaks its own command.

Errors (docs/architecture.md, "Errors"): a `MmrewardError` is printed as one line
`mmreward COMMAND: message` with exit 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> (module or "module:ATTR", one-line help)
COMMANDS = {
    "tiny": ("mmreward.commands.tiny", "build the offline tiny Qwen2.5-VL checkpoint (real tokenizer, random weights)"),
    "score": ("mmreward.commands.score", "score a JSONL file of records with a reward model (resumable)"),
    "synth": ("mmreward.commands.synth", "write synthetic preference data (images, videos, agent task)"),
    "train": ("mmreward.commands.train", "train a reward model: bt, sft, rft, grpo"),
    "eval": ("mmreward.commands.eval", "benchmark metrics and runs (VL-RewardBench, VideoGen-RewardBench, ...)"),
    "agent": ("mmreward.commands.agent", "run the thinking-with-image video judge on one pair of videos"),
    "clip-reward": ("mmreward.commands.clip_reward", "CLIP zero-shot reward (VLM-RM) for rendered MuJoCo rollouts"),
    "models": ("mmreward.commands.models", "list the released reward models mmreward loads (hub id, kind, command)"),
    "convert": ("mmreward.commands.convert", "write a released checkpoint (VideoReward) as an mmreward checkpoint"),
    "serve": ("mmreward.commands.serve", "serve a reward model over HTTP on Ray Serve (batching, OpenRLHF protocol)"),
    "probe": ("mmreward.commands.probe", "probe a reward model for hackable weaknesses (flip rates, reward shifts)"),
    "calibrate": ("mmreward.commands.calibrate", "fit reward normalisation / P(yes) temperature on held-out pairs"),
}


def resolve(spec: str):
    module, _, attr = spec.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, attr) if attr else mod


def print_table(prog: str, description: str | None, table: dict, file=None) -> None:
    """`prog --help` for a command group, without importing its members."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(metavar="COMMAND")
    for name, (_, help_text) in table.items():
        sub.add_parser(name, help=help_text, add_help=False)
    parser.print_help(file)


def find_command(argv: list[str]):
    """Walk `argv` down the command tables: (prog, Command or None, table, description, rest)."""
    from mmreward.commands.parsing import Command

    prog, table, description = "mmreward", COMMANDS, (
        "Multimodal reward models: score, train, evaluate and serve image/video judges.")
    rest = list(argv)
    while True:
        if not rest or rest[0] not in table:
            return prog, None, table, description, rest
        name = rest.pop(0)
        prog = f"{prog} {name}"
        target = resolve(table[name][0])
        select = getattr(target, "select", None)
        if select is not None:  # a command that picks its module from a flag (sft --objective)
            target = resolve(select(rest))
        command = target if isinstance(target, Command) else getattr(target, "COMMAND", None)
        if command is not None:
            return prog, command, table, description, rest
        table, description = target.SUBCOMMANDS, (target.__doc__ or "").strip().split("\n\n")[0]


def main(argv: list[str] | None = None) -> int:
    from mmreward.errors import MmrewardError

    argv = list(sys.argv[1:] if argv is None else argv)
    prog, command, table, description, rest = find_command(argv)
    if command is None:
        if rest and rest[0] not in ("-h", "--help"):
            print_table(prog, description, table, file=sys.stderr)
            print(f"{prog}: unknown command {rest[0]!r}", file=sys.stderr)
            return 2
        print_table(prog, description, table)
        # `mmreward` alone is a request for help; `mmreward train` alone lacks its stage
        return 0 if rest or prog == "mmreward" else 2
    from mmreward.commands.parsing import parse

    try:
        configs = parse(command, rest, prog)
        return int(command.run(*configs) or 0)
    except MmrewardError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `mmreward models | head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
