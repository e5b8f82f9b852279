"""What every benchmark module shares: the Item, and small metric helpers.

A benchmark module defines NAME, `load(path) -> list[Item]` (native file -> items,
DataError on bad rows) and `metrics(items, preds) -> {"slice/metric": value}`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from eval.errors import DataError, where
from eval.media import normalize
from eval.predictions import Prediction


@dataclass
class Item:
    row: int
    id: object
    prompt: str
    candidates: list[dict]  # [{"text": ..} | {"images": [..]} | {"videos": [..]}], file order
    preferred: int | None  # overall human choice (candidate index); None = tie / no pair
    images: list[str] = field(default_factory=list)  # prompt media, relative to the media root
    videos: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)  # benchmark-specific labels
    embedded: dict[str, bytes] = field(default_factory=dict)  # media stored inside the data file

    def record(self) -> dict:
        """Scoring record (docs/architecture.md); the id is the row, since benchmark ids repeat."""
        return {
            "id": str(self.row),
            "prompt": self.prompt,
            "images": list(self.images),
            "videos": list(self.videos),
            "candidates": [dict(c) for c in self.candidates],
        }

    def media(self) -> list[str]:
        paths = list(self.images) + list(self.videos)
        for cand in self.candidates:
            paths += list(cand.get("images", [])) + list(cand.get("videos", []))
        return paths

    def normalize_media(self) -> None:
        """Make every media path a clean relative path (DataError naming the row if one
        is absolute, has '..' or is a URL). Done before a run, not at load: `eval
        metrics` never opens media, so it does not judge their paths."""
        context = where(self.row, self.id)
        self.images = [normalize(p, context) for p in self.images]
        self.videos = [normalize(p, context) for p in self.videos]
        for cand in self.candidates:
            for key in ("images", "videos"):
                if key in cand:
                    cand[key] = [normalize(p, context) for p in cand[key]]


def media_path(value: object, row: int, item_id: object, column: str) -> str:
    """A media path as the data gives it; only its type is checked at load."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where(row, item_id)}: {column} must be a non-empty path, got {value!r}")
    return value.strip()


def require(row_dict: dict, keys: list[str], row: int, item_id: object = None) -> None:
    absent = [k for k in keys if k not in row_dict or row_dict[k] is None]
    if absent:
        raise DataError(f"{where(row, item_id)}: missing field(s) {absent}")


def usable(items: list[Item], preds: dict[int, Prediction]) -> list[tuple[Item, Prediction]]:
    """Items with a prediction that can be scored, in row order."""
    return [(it, preds[it.row]) for it in items if it.row in preds and preds[it.row].usable]


def strict_correct(pair: tuple[float, float], preferred: int) -> bool:
    """The human-preferred candidate's reward is strictly higher (equal rewards are wrong)."""
    return pair[preferred] > pair[1 - preferred]


def accuracy(out: dict, slice_name: str, hits: list[float], metric: str = "accuracy") -> None:
    """Write slice/metric (omitted when empty: 0/0 has no value) and slice/n
    (`all/n` is the number of items scored and is written by `counts`)."""
    if slice_name != "all":
        out[f"{slice_name}/n"] = len(hits)
    if hits:
        out[f"{slice_name}/{metric}"] = sum(hits) / len(hits)


def counts(out: dict, items: list[Item], n_scored: int, unparsed: int = 0, counted: bool = False) -> None:
    """all/n: items the metric counts; all/skipped: items without a usable prediction; all/unparsed:
    judge outputs in which the official parser finds no verdict (`counted`: the benchmark's metric
    still counts them, e.g. as wrong, so they are in all/n; else they are in neither)."""
    out["all/n"] = n_scored
    out["all/skipped"] = len(items) - n_scored - (0 if counted else unparsed)
    out["all/unparsed"] = unparsed


def unparsed_rows(items: list[Item], preds: dict, parses) -> list[int]:
    """Rows whose prediction is judge text without a verdict `parses` reads, in row order."""
    return [it.row for it, p in usable(items, preds) if p.rewards is None and not parses(p.output)]


def reject_judge_text(name: str, pairs: list[tuple[Item, Prediction]]) -> None:
    """For benchmarks whose official metric has no judge-text parser."""
    for item, pred in pairs:
        if pred.rewards is None:
            raise DataError(f"{name}: {where(item.row, item.id)} gives judge text; this benchmark is scored from rewards")
