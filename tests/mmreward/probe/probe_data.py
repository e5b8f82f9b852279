"""Probe test data shared by conftest.py and the tests (a module of its own: `from conftest import`
resolves to whichever conftest was imported first)."""
from __future__ import annotations

from pathlib import Path

import pytest

from mmreward.ui.judge import SHARED_DATA_ENV, shared_data_dir

DATA = shared_data_dir(Path(__file__).resolve().parents[3])  # $MMREWARD_SHARED_DATA, else ../shared/data
PHOTOS = ("extreme_ironing.jpg", "waterview.jpg")
CLIPS = ("example_1_A", "example_1_B")
GIRL = ("The camera remains still, a girl with braided hair and wearing a pink dress approached the chair "
        "in the room and sat on it, the background is a cozy bedroom, warm indoor lighting.")


def benchmark_text_records(n: int) -> list[dict]:
    """The first n VL-RewardBench rows as text-only records, with `chosen`."""
    from eval.benchmarks import vl_rewardbench

    if DATA is None:
        pytest.skip(f"shared data is absent (${SHARED_DATA_ENV}, else ../shared/data)")
    items = vl_rewardbench.load(DATA / "benchmarks" / "vl-rewardbench" / "data.jsonl")[:n]
    return [{"id": it.id, "prompt": it.prompt, "chosen": it.preferred, "candidates": it.candidates} for it in items]
