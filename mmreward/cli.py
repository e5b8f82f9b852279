"""The `mmreward` console script.

Each subcommand lives in its own module under `mmreward.commands` and exposes
`register(subparsers)`. Modules are imported only when their command runs, so
`mmreward --help` stays fast and a broken optional dependency only breaks its
own command. `eval` is the one command that reaches up into the `eval` package.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module under mmreward.commands, one-line help)
COMMANDS = {
    "tiny": ("tiny", "build the offline tiny Qwen2.5-VL checkpoint (real tokenizer, random weights)"),
    "score": ("score", "score a JSONL file of records with a reward model (resumable)"),
    "synth": ("synth", "write synthetic preference data (images, videos, agent task)"),
    "train": ("train", "train a reward model: bt, sft, rft, grpo"),
    "eval": ("eval", "benchmark metrics and runs (VL-RewardBench, VideoGen-RewardBench, ...)"),
    "agent": ("agent", "run the thinking-with-image video judge on one pair of videos"),
    "clip-reward": ("clip_reward", "CLIP zero-shot reward (VLM-RM) for rendered MuJoCo rollouts"),
}


_argv: list[str] = []


def current_argv() -> list[str]:
    """The arguments being parsed, for commands whose options depend on an earlier choice
    (`train STAGE`, `sft --objective X`): only the chosen recipe's options are registered."""
    return list(_argv)


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmreward",
        description="Multimodal reward models: score, train and evaluate image/video judges.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name == selected:
            mod = importlib.import_module(f"mmreward.commands.{module}")
            mod.register(sub, name=name, help=help_text)
        else:
            # a placeholder keeps `mmreward --help` complete without importing torch
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _argv[:] = argv
    selected = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(selected)
    args = parser.parse_args(argv)
    if selected is None:
        parser.print_help()
        return 0 if not argv else 2
    try:
        rc = args.func(args)
    except FileNotFoundError as exc:  # a path the user gave (model, data, media): say which, no traceback
        print(f"mmreward {selected}: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    # `python -m mmreward.cli` (and `accelerate launch -m mmreward.cli`) runs this file as
    # __main__, while the command modules import `mmreward.cli`, a second copy whose argv
    # would stay empty: run that copy so both see the arguments being parsed.
    from mmreward.cli import main as _main

    sys.exit(_main())
