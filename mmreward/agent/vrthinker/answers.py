"""Reading and writing VR-Thinker answers, tolerant of the tag and spacing variants in use.

The sources write the verdict in different tags and spacings:
    <final answer>TA = 1, MQ = 1, VQ = 1, OA = 1</final answer>   (the authors' code: EM `process`)
    <Answer>TA=1, VQ=1, MQ=0, OA=1</Answer>
    <answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>
    <recommend answer>... </recommend answer>   (the inclination written before each tool call;
                                                 EM also accepts "recommended answer")
Labels: 1 = Video 1 better, 2 = Video 2 better, 0 = tie. The last final block counts; without one
the last recommend block does (an episode cut off by the turn limit), marked as such.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

OVERALL = "OA"
FINAL_TAGS = ("final answer", "answer")
RECOMMEND_TAGS = ("recommend answer", "recommended answer")
_OPEN = re.compile(r"<\s*(final\s+answer|recommend(?:ed)?\s+answer|answer)\s*>", re.IGNORECASE)
_PAIR = re.compile(r"\b(TA|VQ|MQ|OA)\b\s*[:=]\s*([012])(?![0-9])", re.IGNORECASE)


def _tag(raw: str) -> str:
    return " ".join(raw.lower().split())


@dataclass(frozen=True)
class Answer:
    labels: dict = field(default_factory=dict)  # {"TA": 1, "VQ": 0, "MQ": 2, "OA": 1}, the keys found
    source: str | None = None  # "final", "recommend", or None (no answer block)
    block: str = ""  # the text inside the tags that was read

    def complete(self, dims) -> bool:
        return all(d in self.labels for d in (*dims, OVERALL))


def blocks(text: str) -> list[tuple[str, str, bool]]:
    """(tag, inner text, closed) of every answer block, in order. A block runs to its closing tag,
    else to the next opening tag or the end of the text."""
    opens = list(_OPEN.finditer(text))
    out = []
    for k, m in enumerate(opens):
        tag = _tag(m.group(1))
        end = opens[k + 1].start() if k + 1 < len(opens) else len(text)
        close = re.compile(r"<\s*/\s*" + r"\s+".join(tag.split()) + r"\s*>", re.IGNORECASE).search(text, m.end(), end)
        out.append((tag, text[m.end():close.start()] if close else text[m.end():end], close is not None))
    return out


def labels_in(block: str) -> dict:
    """{KEY: label} for each of TA / VQ / MQ / OA written as `KEY = n` or `KEY: n` (first one wins)."""
    out: dict[str, int] = {}
    for m in _PAIR.finditer(block):
        out.setdefault(m.group(1).upper(), int(m.group(2)))
    return out


def read_answer(text: str) -> Answer:
    """The verdict in `text`: the last final block, else the last recommend block."""
    found = blocks(text)
    for source, tags in (("final", FINAL_TAGS), ("recommend", RECOMMEND_TAGS)):
        mine = [b for b in found if b[0] in tags]
        if mine:
            return Answer(labels_in(mine[-1][1]), source, mine[-1][1])
    return Answer()


def final_blocks(text: str) -> list[tuple[str, str, bool]]:
    return [b for b in blocks(text) if b[0] in FINAL_TAGS]


def labels_text(labels: dict, order, sep: str = " = ") -> str:
    """"TA = 1, MQ = 1, VQ = 1, OA = 1" for `order` (OA last)."""
    return ", ".join(f"{k}{sep}{labels[k]}" for k in (*[d for d in order if d != OVERALL], OVERALL))
