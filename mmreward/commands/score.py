"""`mmreward score`: score a JSONL file of records, resumably."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.commands.parsing import Command
from mmreward.commands.common import JudgeOptions
from mmreward.errors import InputError, MmrewardError
from mmreward.models.options import ModelOptions, check_positive
from mmreward.scoring.jsonl import MAX_LINE_BYTES


@dataclass
class ScoreConfig:
    _argument_group_name = "scoring"

    input: str = field(metadata={"help": "JSONL of records (docs/architecture.md, 'Scoring records')"})
    output: str = field(metadata={"help": "JSONL of results (appended to when resuming; one run at a time)"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory media paths are relative to; nothing outside it is read "
                "(default: the working directory, unconfined)"})
    batch_size: int = field(default=8, metadata={"help": "prompts per forward pass, at most"})
    retry_errors: bool = field(default=False, metadata={
        "help": "when resuming, score every error line again (error lines marked retryable, e.g. a "
                "media file not found, are always scored again)"})
    max_line_bytes: int = field(default=MAX_LINE_BYTES, metadata={
        "help": "an input line longer than this is an error line (it is never held in memory)"})
    no_progress: bool = field(default=False, metadata={"help": "no progress bar"})

    def __post_init__(self):
        check_positive(self, ("batch_size", "max_line_bytes"))


def run(model_opts: ModelOptions, judge: JudgeOptions, cfg: ScoreConfig) -> int:
    from mmreward.commands.common import check_model, load_model

    # everything the user gave is checked before torch is imported and minutes of model loading
    if not Path(cfg.input).is_file():
        raise InputError(f"input {cfg.input!r}: no such file")
    if cfg.media_root is not None and not Path(cfg.media_root).is_dir():
        raise InputError(f"--media-root {cfg.media_root!r} is not a directory")
    check_model(model_opts)
    from mmreward.launch import process_state
    from mmreward.scoring.score_file import score_file

    state = process_state()
    device = {"device": str(state.device)} if state.num_processes > 1 else {}

    def load():  # only once a line needs the model: a finished output costs no load
        return load_model(model_opts, judge, **device)

    try:
        summary = score_file(load, cfg.input, cfg.output, cfg.media_root, cfg.batch_size,
                             progress=not cfg.no_progress, state=state, retry_errors=cfg.retry_errors,
                             max_line_bytes=cfg.max_line_bytes)
    except MmrewardError:  # already says what it is about (the model, a line, the output)
        raise
    except OSError as exc:  # the output's directory or disk
        raise InputError(f"{cfg.output}: {exc}") from None
    if state.is_main_process:
        # the process count shows whether a launcher really started several
        print(f"{cfg.output}: {summary['lines']} lines, {summary['errors']} errors "
              f"(resumed after {summary['resumed_from']}, {summary['retried']} error lines retried; "
              f"{state.num_processes} process{'es' if state.num_processes > 1 else ''})", file=sys.stderr)
    return 0


COMMAND = Command(
    configs=(ModelOptions, JudgeOptions, ScoreConfig),
    run=run,
    description=(
        "Score records with a reward model. Writes one JSON line per input line, in order: "
        "{id, rewards, preferred[, dimensions]} or {id, error}. A bad line never stops the run. "
        "Re-running with the same --output resumes: lines already answered are not scored again, "
        "error lines marked retryable are. One run at a time per --output (a lock file beside it). "
        "Under `accelerate launch` every process scores a shard."),
)
