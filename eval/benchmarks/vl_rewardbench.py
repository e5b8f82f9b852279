"""VL-RewardBench (Li et al. 2024): `data.jsonl` with `image_path`, or the HF parquet
with the image embedded.

`human_ranking` is a rank per response, 0 = preferred. Groups by id prefix:
hallucination_pair-*, RLAIF-*, RLHF-* -> hallucination; mathverse_*, mmmu_* ->
reasoning; the rest (wildvision, vlfeedback) -> general. Overall accuracy is micro over
the items counted; macro is the mean of the three group accuracies (the official
`cal.py`). Judge text is parsed like `cal.py`'s reparse: after the first "Overall
Judgment" or "Therefore", the last "Answer N is [the] [slightly] better" (newlines and
'*' removed, case-insensitive); Answer 1 / 2 = response[0] / [1]. An item whose verdict
does not parse is not counted (cal.py divides by agree + reject only).
"""
from __future__ import annotations

import re

from eval.benchmarks.base import Item, accuracy, counts, media_path, require, strict_correct, usable
from eval.errors import DataError, where
from eval.datafile import read_rows

NAME = "vl-rewardbench"
GROUPS = ("general", "hallucination", "reasoning")
UNPARSED = "not counted, as the official cal.py"  # what the metric does with judge text without a verdict

_MARKER = re.compile(r"overall judgment|therefore", re.IGNORECASE)
_VERDICT = re.compile(r"answer\s*(\d+)\s*is\s*(?:the\s*)?(?:slightly\s*)?better", re.IGNORECASE)


def group(item_id: str) -> str:
    if item_id.startswith(("hallucination_pair-", "RLAIF-", "RLHF-")):
        return "hallucination"
    if item_id.startswith(("mathverse_", "mmmu_")):
        return "reasoning"
    return "general"


def parse_verdict(text: str) -> int | None:
    """Candidate index the judge prefers, or None when the verdict does not parse."""
    flat = text.replace("\n", "").replace("*", "")
    marker = _MARKER.search(flat)
    if marker is None:
        return None
    verdicts = list(_VERDICT.finditer(flat, marker.end()))
    if not verdicts:
        return None
    number = int(verdicts[-1].group(1))
    return number - 1 if number in (1, 2) else None


def parses(text: str) -> bool:
    return parse_verdict(text) is not None


def _image(raw: dict, row: int, item_id: str) -> tuple[list[str], dict]:
    """(image paths, embedded bytes): a parquet row carries the image itself."""
    image = raw.get("image")
    if isinstance(image, dict) and image.get("bytes"):
        name = str(image.get("path") or "image.png").replace("\\", "/").rsplit("/", 1)[-1]
        rel = f"embedded/{row:06d}-{name}"
        return [rel], {rel: image["bytes"]}
    if isinstance(image, (bytes, bytearray)):
        rel = f"embedded/{row:06d}.png"
        return [rel], {rel: bytes(image)}
    if raw.get("image_path"):
        return [media_path(raw["image_path"], row, item_id, "image_path")], {}
    raise DataError(f"{where(row, item_id)}: no image (needs 'image_path' or an embedded 'image')")


def load(path) -> list[Item]:
    items = []
    for row, raw in enumerate(read_rows(path)):
        item_id = raw.get("id")
        require(raw, ["id", "query", "response", "human_ranking"], row, item_id)
        responses, ranking = list(raw["response"]), list(raw["human_ranking"])
        if len(responses) != 2 or not all(isinstance(r, str) for r in responses):
            raise DataError(f"{where(row, item_id)}: 'response' must be two strings")
        if sorted(ranking) != [0, 1]:
            raise DataError(f"{where(row, item_id)}: human_ranking must be [0, 1] or [1, 0], got {ranking}")
        images, embedded = _image(raw, row, item_id)
        items.append(Item(
            row=row, id=item_id, prompt=raw["query"], images=images, embedded=embedded,
            candidates=[{"text": r} for r in responses], preferred=ranking.index(0),
            meta={"group": group(str(item_id))},
        ))
    return items


def metrics(items: list[Item], preds: dict) -> dict:
    hits = {g: [] for g in GROUPS}
    unparsed = 0
    for item, pred in usable(items, preds):
        if pred.rewards is not None:
            hit = strict_correct(pred.pair(), item.preferred)
        else:
            choice = parse_verdict(pred.output)
            if choice is None:
                unparsed += 1
                continue  # not counted, as in cal.py
            hit = choice == item.preferred
        hits[item.meta["group"]].append(float(hit))
    out: dict = {}
    every = [h for g in GROUPS for h in hits[g]]
    accuracy(out, "all", every)
    for g in GROUPS:
        accuracy(out, g, hits[g])
    if all(hits[g] for g in GROUPS):
        out["all/macro_accuracy"] = sum(sum(hits[g]) / len(hits[g]) for g in GROUPS) / len(GROUPS)
    counts(out, items, len(every), unparsed)
    return out
