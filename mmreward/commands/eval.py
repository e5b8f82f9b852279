"""Evaluate reward models on public benchmarks with the official metrics.

The commands live in the `eval` package, which sits above mmreward: they are
imported only when `mmreward eval ...` runs.
"""
from __future__ import annotations

SUBCOMMANDS = {
    "metrics": ("eval.cli:METRICS", "metrics of a predictions file"),
    "run": ("eval.cli:RUN", "score a benchmark with a model, then compute metrics"),
}
