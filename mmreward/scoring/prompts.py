"""Chat messages for each way a reward is read from the VLM.

A `Prompt` carries the messages plus the images and videos in the order their
placeholders appear, which is the order the processor needs them in.

Media come before the text that asks about them: with causal attention the
prompt's words can then look at the pixels, which is what lets a small model
learn to match "a red circle" against an image at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.scoring.records import Candidate, Item

DEFAULT_CRITERIA = "faithfulness to the prompt, correctness and overall quality"


@dataclass
class Prompt:
    messages: list[dict]
    images: list = field(default_factory=list)
    videos: list = field(default_factory=list)
    add_generation_prompt: bool = True


class _Builder:
    def __init__(self):
        self.content: list[dict] = []
        self.images: list = []
        self.videos: list = []

    def text(self, s: str):
        self.content.append({"type": "text", "text": s})

    def media(self, images, videos):
        for im in images:
            self.content.append({"type": "image"})
            self.images.append(im)
        for v in videos:
            self.content.append({"type": "video"})
            self.videos.append(v)

    def candidate(self, c: Candidate, label: str):
        self.text(f"{label}:")
        self.media(c.images, c.videos)
        if c.text is not None:
            self.text(f" {c.text}")
        self.text("\n")

    def user(self) -> list[dict]:
        return [{"role": "user", "content": self.content}]


def _has_media(c: Candidate) -> bool:
    return bool(c.images or c.videos)


def scalar_prompt(item: Item, cand: Candidate) -> Prompt:
    """A text answer is the assistant turn after the question; a media candidate is shown with the prompt."""
    b = _Builder()
    b.media(item.images, item.videos)
    b.media(cand.images, cand.videos)
    b.text(item.prompt)
    if item.criteria:
        b.text(f"\nCriteria: {item.criteria}")
    if _has_media(cand) or cand.text is None:
        if cand.text is not None:
            b.text(f"\n{cand.text}")
        return Prompt(b.user(), b.images, b.videos, add_generation_prompt=True)
    answer = {"role": "assistant", "content": [{"type": "text", "text": cand.text}]}
    return Prompt(b.user() + [answer], b.images, b.videos, add_generation_prompt=False)


def _question(item: Item, cands: list[tuple[Candidate, str]], ask: str, rationale: bool) -> Prompt:
    b = _Builder()
    b.media(item.images, item.videos)
    for cand, label in cands:
        b.candidate(cand, label)
    how = "Explain your judgement briefly, then answer yes or no." if rationale else "Answer yes or no."
    b.text(f"Prompt: {item.prompt}\n{ask} {how}")
    return Prompt(b.user(), b.images, b.videos)


def pointwise_question(item: Item, cand: Candidate, rationale: bool = False) -> Prompt:
    """RewardDance pointwise form: does this one candidate satisfy the prompt?"""
    criteria = item.criteria or DEFAULT_CRITERIA
    return _question(item, [(cand, "Candidate")],
                     f"Does the candidate satisfy the prompt well, judged by {criteria}?", rationale)


def pairwise_question(item: Item, cand: Candidate, reference: Candidate, rationale: bool = False) -> Prompt:
    """RewardDance pairwise-with-reference form: is candidate A better than reference B?"""
    criteria = item.criteria or DEFAULT_CRITERIA
    return _question(item, [(cand, "Candidate A"), (reference, "Reference B")],
                     f"Is candidate A better than the reference B for this prompt, judged by {criteria}?",
                     rationale)
