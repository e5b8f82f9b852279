"""Multimodal RewardBench (Yasunaga et al. 2025): `all_data.json`, a list of
{ID, Image, Text, Output1, Output2, Better, Category}.

Accuracy overall (micro) and per Category, with safety split into safety/bias (IDs
starting 'pairs') / safety/toxicity and reasoning into reasoning/math ('math') /
reasoning/coding, as the official `2_get_accuracy.py` does. Judge text: "[[A]]" (checked
first), else "[[B]]", else a random guess from one generator seeded 123 and drawn in
row order for each unparsed output - the official script's fallback, so its numbers
are reproduced on the same outputs.
"""
from __future__ import annotations

import random

from eval.benchmarks.base import Item, accuracy, counts, media_path, require, strict_correct, usable
from eval.datafile import read_rows
from eval.errors import DataError, where

NAME = "multimodal-rewardbench"
SEED = 123


def category(item_id: str, raw_category: str) -> str:
    if raw_category == "safety":
        return "safety/bias" if item_id.lower().startswith("pairs") else "safety/toxicity"
    if raw_category == "reasoning":
        return "reasoning/math" if item_id.lower().startswith("math") else "reasoning/coding"
    return raw_category


def load(path) -> list[Item]:
    items = []
    for row, raw in enumerate(read_rows(path)):
        item_id = raw.get("ID")
        require(raw, ["ID", "Image", "Text", "Output1", "Output2", "Better", "Category"], row, item_id)
        if raw["Better"] not in ("Output1", "Output2"):
            raise DataError(f"{where(row, item_id)}: 'Better' must be 'Output1' or 'Output2', got {raw['Better']!r}")
        items.append(Item(
            row=row, id=item_id, prompt=raw["Text"],
            images=[media_path(raw["Image"], row, item_id, "Image")],
            candidates=[{"text": str(raw["Output1"])}, {"text": str(raw["Output2"])}],
            preferred=0 if raw["Better"] == "Output1" else 1,
            meta={"category": category(str(item_id), str(raw["Category"]))},
        ))
    return items


UNPARSED = "given a seeded coin flip, as the official script"


def parses(text: str) -> bool:
    return "[[A]]" in text or "[[B]]" in text


def judge_choice(text: str, rng: random.Random) -> int:
    if "[[A]]" in text:
        return 0
    if "[[B]]" in text:
        return 1
    return 0 if rng.random() < 0.5 else 1


def metrics(items: list[Item], preds: dict) -> dict:
    rng = random.Random(SEED)
    every: list[float] = []
    by_category: dict[str, list[float]] = {}
    for item, pred in usable(items, preds):
        if pred.rewards is not None:
            hit = strict_correct(pred.pair(), item.preferred)
        else:
            hit = judge_choice(pred.output, rng) == item.preferred
        every.append(float(hit))
        by_category.setdefault(item.meta["category"], []).append(float(hit))
    out: dict = {}
    accuracy(out, "all", every)
    for name in sorted(by_category):
        accuracy(out, name, by_category[name])
    counts(out, items, len(every), sum(p.rewards is None and not parses(p.output) for _, p in usable(items, preds)),
           counted=True)
    return out
