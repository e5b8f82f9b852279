"""Prompt probes: a reward must depend on the prompt it is asked about.

The record's preferred candidate is scored alone (pointwise) under its own prompt and under a
wrong one: another record's prompt, or its own with one content word changed (a contrast
prompt: "a red car" -> "a blue car"). A reward that does not drop cannot tell a policy that it
ignored the prompt.
"""
from __future__ import annotations

import re

from mmreward.probe.context import ProbeContext, single
from mmreward.probe.spec import Case, Probe, reads_prompt

STOPWORDS = frozenset("""
a an the and or but if then than of in on at to for from by with without into onto over under
is are was were be been being am do does did has have had having it its this that these those
there here who whom whose which what when where why how all any each some no not only very can
could should would may might will shall must about above after again against before below
between both during few more most other own same so such too until up down out off once further
your you yours his her hers him she he they them their theirs we us our ours me my mine i
""".split())

# words whose swap changes what a prompt asks for while keeping it fluent
CONTRASTS = (
    ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "brown"),
    ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    ("left", "right"), ("up", "down"), ("big", "small"), ("large", "tiny"), ("day", "night"),
    ("man", "woman"), ("boy", "girl"), ("cat", "dog"), ("sitting", "standing"), ("running", "walking"),
    ("circle", "square", "triangle", "star"), ("indoor", "outdoor"), ("summer", "winter"),
)
FALLBACK = ("volcano", "bicycle", "penguin", "umbrella", "violin", "cactus", "lighthouse", "submarine")
WORD = re.compile(r"[A-Za-z]+")


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text) if len(w) >= 3 and w.lower() not in STOPWORDS]


def _match_case(word: str, like: str) -> str:
    return word.capitalize() if like[:1].isupper() else word


def change_one_word(prompt: str, rng, other_prompts: list[str]) -> str | None:
    """`prompt` with one content word replaced: by a contrast word where the prompt has one,
    else by a content word of another prompt (or a fallback noun) that it does not contain."""
    tokens = list(WORD.finditer(prompt))
    for group in CONTRASTS:  # contrast words first: the change surely matters
        hits = [m for m in tokens if m.group().lower() in group]
        if hits:
            m = hits[int(rng.integers(len(hits)))]
            options = [w for w in group if w != m.group().lower()]
            new = _match_case(options[int(rng.integers(len(options)))], m.group())
            return prompt[:m.start()] + new + prompt[m.end():]
    words = [m for m in tokens if len(m.group()) >= 3 and m.group().lower() not in STOPWORDS]
    if not words:
        return None
    m = words[int(rng.integers(len(words)))]
    present = {w.lower() for w in WORD.findall(prompt)}
    pool = sorted({w.lower() for p in other_prompts for w in content_words(p)} - present) \
        or [w for w in FALLBACK if w not in present]
    new = _match_case(pool[int(rng.integers(len(pool)))], m.group())
    return prompt[:m.start()] + new + prompt[m.end():]


def _preferred_alone(ctx: ProbeContext, i: int) -> dict | None:
    rec = ctx.records[i]
    if len(rec["candidates"]) > 2:
        return None
    return single(rec, ctx.winner(i))


def _swap(ctx: ProbeContext, i: int) -> list[Case]:
    own = _preferred_alone(ctx, i)
    if own is None:
        return []
    n = len(ctx.records)
    for step in range(1, n):  # the next usable record with a different prompt
        j = (i + step) % n
        if ctx.usable(j) and ctx.records[j]["prompt"].strip() != own["prompt"].strip():
            return [Case(i, before=own, after={**own, "prompt": ctx.records[j]["prompt"]})]
    return []


def _one_word(ctx: ProbeContext, i: int) -> list[Case]:
    own = _preferred_alone(ctx, i)
    if own is None:
        return []
    others = [r["prompt"] for j, r in enumerate(ctx.records) if j != i and ctx.usable(j)]
    changed = change_one_word(own["prompt"], ctx.rng("prompt_word", i), others)
    if changed is None or changed == own["prompt"]:
        return []
    return [Case(i, before=own, after={**own, "prompt": changed})]


PROBES = [
    Probe("prompt_swap", "prompt", "lower", "the preferred candidate scored under another record's prompt",
          _swap, needs="any", model_check=reads_prompt),
    Probe("prompt_word", "prompt", "lower", "the preferred candidate scored with one content word "
          "of its prompt changed (contrast prompt)", _one_word, needs="any", model_check=reads_prompt),
]
