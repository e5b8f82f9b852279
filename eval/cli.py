"""`mmreward eval {metrics,run}`: benchmark metrics from predictions, or a model run.

The commands are `METRICS` and `RUN`; `mmreward.commands.eval` lists them (the CLI reaches up
to this package lazily)."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from eval.benchmarks import NAMES
from eval.errors import DataError
from mmreward.commands.common import JudgeOptions
from mmreward.commands.parsing import Command
from mmreward.models.options import ModelOptions

PREDICTIONS_HELP = """\
predictions: JSONL, one line per item, keyed by "row" (0-based position of the item in
the data file). Each line gives "rewards": [r_a, r_b] (candidates in the file's order),
or "rewards": {"VQ": [..], "MQ": [..], "TA": [..], "Overall": [..]} (an aspect without
its own entry uses "Overall"), or "output": "judge text" (parsed with the benchmark's
official parser), or "error": "..." (counted as skipped)."""

METRICS_HELP = """\
metrics ("slice/metric", fractions in [0, 1]; every benchmark also all/n = items counted,
all/skipped = items without a prediction or with an error line, all/unparsed = judge outputs
in which the official parser finds no verdict (vl-rewardbench: not counted; genai-bench-video:
counted wrong; multimodal-rewardbench: a seeded coin flip, as the official scripts do; the
first rows are named on stderr), and <slice>/n):
  vl-rewardbench          all/accuracy, all/macro_accuracy, general|hallucination|reasoning/accuracy
  multimodal-rewardbench  all/accuracy, <category>/accuracy (safety/bias, safety/toxicity,
                          reasoning/math, reasoning/coding, ...)
  mm-rlhf-rewardbench     all/accuracy, all/acc_plus, <mcq|long|short|safety|video>/accuracy|acc_plus
  videogen-rewardbench    <VQ|MQ|TA|Overall>/accuracy_with_ties|accuracy_without_ties
  genai-bench-video       all/accuracy (judge text), all/accuracy_with_ties|accuracy_without_ties (rewards)
  mj-bench-video          all/accuracy_strict|accuracy_tie_aware, <aspect>/accuracy_strict|accuracy_tie_aware"""

BENCHMARKS_HELP = """\
benchmarks and their data files:
  vl-rewardbench          data.jsonl (image_path) or the HF parquet (embedded image)
  multimodal-rewardbench  all_data.json (ID, Image, Text, Output1, Output2, Better, Category)
  mm-rlhf-rewardbench     JSON/JSONL rows (id, image|video, prompt, chosen, rejected)
  videogen-rewardbench    CSV (path_A, path_B, prompt, VQ, MQ, TA, Overall: A/B/same)
  genai-bench-video       JSONL (prompt, left_video, right_video, vote_type) or a results file
  mj-bench-video          test.json (caption, video_0_path, video_1_path, *_preference)"""


@dataclass
class MetricsConfig:
    benchmark: str = field(metadata={"choices": NAMES, "metavar": "NAME", "help": "benchmark name (see below)"})
    data: str = field(metadata={"help": "the benchmark's native data file"})
    predictions: str = field(metadata={"help": "predictions JSONL (see below)"})
    json: bool = field(default=False, metadata={"help": 'print one flat JSON object {"slice/metric": value}'})
    out: str | None = field(default=None, metadata={
        "help": "also write metrics.json, metrics.md and plots into this directory"})


@dataclass
class RunConfig:
    _argument_group_name = "benchmark run"

    benchmark: str = field(metadata={"choices": NAMES, "metavar": "NAME", "help": "benchmark name (see below)"})
    data: str = field(metadata={"help": "the benchmark's native data file"})
    out: str = field(metadata={"help": "output directory; rows already in its predictions.jsonl are kept"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory the data's media paths are relative to (default: the data file's directory)"})
    limit: int | None = field(default=None, metadata={"help": "only the first N items"})
    skip_missing: bool = field(default=False, metadata={
        "help": "score the items whose media exist; the others count as skipped"})
    batch_size: int = field(default=8, metadata={"help": "records per model call"})
    json: bool = field(default=False, metadata={"help": "print the metrics as JSON instead of a table"})

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:
            raise DataError("--limit must be at least 1")
        if self.batch_size < 1:
            raise DataError("--batch-size must be at least 1")


def _print(metrics: dict, as_json: bool, title: str) -> None:
    from eval.report import markdown

    print(json.dumps(metrics) if as_json else markdown(metrics, title), end="\n" if as_json else "")


def _metrics(cfg: MetricsConfig) -> int:
    from eval import metrics, report

    out, items, preds = metrics.from_files(cfg.benchmark, cfg.data, cfg.predictions)
    if cfg.out:
        report.write(cfg.out, cfg.benchmark, out, items, preds)
    _print(out, cfg.json, cfg.benchmark)
    return 0


def _run(model: ModelOptions, judge: JudgeOptions, cfg: RunConfig) -> int:
    from mmreward.commands.common import check_model

    # what the user gave, checked before torch is imported
    if not Path(cfg.data).exists():
        raise DataError(f"data file not found: {cfg.data}")
    if cfg.media_root is not None and not Path(cfg.media_root).is_dir():
        raise DataError(f"media root {cfg.media_root} is not a directory")
    check_model(model)
    from eval.run import run
    from mmreward.launch import process_state

    out = run(cfg.benchmark, cfg.data, cfg.out, model, media_root=cfg.media_root, limit=cfg.limit,
              skip_missing=cfg.skip_missing, batch_size=cfg.batch_size, judge=judge, state=process_state())
    if out is None:  # not the main process of a multi-process run: the main one reports
        return 0
    _print(out, cfg.json, cfg.benchmark)
    print(f"wrote predictions.jsonl, metrics.json, metrics.md and plots to {cfg.out}", file=sys.stderr)
    return 0


METRICS = Command(configs=(MetricsConfig,), run=_metrics,
                  description="Compute a benchmark's official metrics from a predictions file.",
                  epilog=PREDICTIONS_HELP + "\n\n" + METRICS_HELP + "\n\n" + BENCHMARKS_HELP)
RUN = Command(configs=(ModelOptions, JudgeOptions, RunConfig), run=_run,
              description="Score every item with a reward model (resumable), then write predictions.jsonl, "
                          "metrics.json, metrics.md and PNG plots into --out.",
              epilog=BENCHMARKS_HELP)
