"""`mmreward train sft --objective yes-token|traces`: the objective picks the command (its options differ)."""
from __future__ import annotations

OBJECTIVES = {"yes-token": "mmreward.commands.train.stages:YES_TOKEN_SFT",
              "traces": "mmreward.commands.train.stages:TRACE_SFT"}


def objective(argv: list[str]) -> str:
    """The --objective value in `argv` (default yes-token); an unknown one is left to the parser."""
    for i, a in enumerate(argv):
        if a == "--objective" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--objective="):
            return a.split("=", 1)[1]
    return "yes-token"


def select(argv: list[str]) -> str:
    return OBJECTIVES.get(objective(argv), OBJECTIVES["yes-token"])
