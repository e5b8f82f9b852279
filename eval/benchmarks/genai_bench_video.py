"""GenAI-Bench, video generation (Jiang et al. 2024, GenAI-Arena).

Native rows {prompt, left_video, right_video, vote_type}, or the official results files
{idx, prompt, response, model_vote, human_vote, correct}. Votes: leftvote (A better),
rightvote, tievote, bothbad_vote.

Judge text is parsed as the official `parse_response`: the first regex match of
'[[...]]' (greedy within its line); leftvote is matched by [[A>B]] / [[A>>B]], rightvote
by [[B>A]] / [[B>>A]], tievote by [[A=B]] / [[A=B=Good]], bothbad by [[A=B]] /
[[A=B=Bad]]; anything else, or no match, is wrong; the denominator is every item with
a prediction. Scalar rewards: accuracy with / without ties as for VideoGen-RewardBench,
tievote and bothbad being human ties.
"""
from __future__ import annotations

import re

from eval.benchmarks.base import Item, accuracy, counts, media_path, require, usable
from eval.datafile import read_rows
from eval.errors import DataError, where
from eval.ties import accuracy_with_ties, accuracy_without_ties

NAME = "genai-bench-video"
# vote -> (human sign for the tie metrics, verdicts the official parser accepts)
VOTES = {
    "leftvote": (1, {"[[A>B]]", "[[A>>B]]"}),
    "rightvote": (-1, {"[[B>A]]", "[[B>>A]]"}),
    "tievote": (0, {"[[A=B]]", "[[A=B=Good]]"}),
    "bothbad_vote": (0, {"[[A=B]]", "[[A=B=Bad]]"}),
}
ALIASES = {"bothbad": "bothbad_vote"}
UNPARSED = "counted wrong, as the official script"
_VERDICT = re.compile(r"\[\[.*\]\]")  # '.' stops at a newline: the match stays on one line


def parse_response(text: str) -> str | None:
    match = _VERDICT.search(text)
    return match.group() if match else None


def parses(text: str) -> bool:
    """A verdict the official parser knows (any other '[[...]]', or none, is always wrong)."""
    return any(parse_response(text) in verdicts for _, verdicts in VOTES.values())


def load(path) -> list[Item]:
    items = []
    for row, raw in enumerate(read_rows(path)):
        item_id = raw.get("idx", raw.get("id"))
        vote = raw.get("vote_type", raw.get("human_vote"))
        vote = ALIASES.get(vote, vote)
        if vote not in VOTES:
            raise DataError(f"{where(row, item_id)}: vote must be one of {sorted(VOTES)}, got {vote!r}")
        require(raw, ["prompt"], row, item_id)
        # results files carry no video paths: usable for `eval metrics`, not for `eval run`
        candidates = [
            {"videos": [media_path(raw[col], row, item_id, col)]} if raw.get(col) else {}
            for col in ("left_video", "right_video")
        ]
        sign = VOTES[vote][0]
        items.append(Item(
            row=row, id=item_id, prompt=str(raw["prompt"]), candidates=candidates,
            preferred=None if sign == 0 else (0 if sign == 1 else 1), meta={"vote": vote},
        ))
    return items


def metrics(items: list[Item], preds: dict) -> dict:
    pairs = usable(items, preds)
    judged = [float(parse_response(p.output) in VOTES[it.meta["vote"]][1]) for it, p in pairs if p.output is not None]
    rewarded = [(VOTES[it.meta["vote"]][0], p.pair()) for it, p in pairs if p.rewards is not None]
    out: dict = {}
    accuracy(out, "all", judged)
    if rewarded:
        h = [sign for sign, _ in rewarded]
        m = [a - b for _, (a, b) in rewarded]
        for metric, value in (("accuracy_with_ties", accuracy_with_ties(h, m)),
                              ("accuracy_without_ties", accuracy_without_ties(h, m))):
            if value is not None:
                out[f"all/{metric}"] = value
    counts(out, items, len(pairs), sum(not parses(p.output) for _, p in pairs if p.output is not None), counted=True)
    return out


def check_runnable(item: Item) -> None:
    if not all(c.get("videos") for c in item.candidates):
        raise DataError(f"{where(item.row, item.id)}: no left_video/right_video; this file can be "
                        "scored with `eval metrics` but not run through a model")
