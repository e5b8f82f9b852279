"""The agent loop: a VLM judges videos, calling select_frames to look at more frames.

    trace = rollout(model, processor, ["a.mp4", "b.mp4"], "a cat surfing", AgentConfig())

Per turn: build the windowed context (`context.context_for_turn`), get the next assistant text
from the turn source (`ModelTurns`: prefill what the KV cache does not already hold
(`kv.CachedDecoder`), decode until <|im_end|>, the protocol's stop text or `max_new_tokens`;
`PolicyTurns`: a scripted policy), and hand the text to the environment (`episode.Episode`),
which answers with frames, an error, or ends the rollout.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .config import AgentConfig
from .context import context_for_turn
from .episode import Episode
from .frames import FrameStore, materialize
from .batch import BatchedDecoder
from .kv import CachedDecoder
from .sampling import choose
from .trace import Trace


@dataclass
class Turn:
    """One assistant turn as its source produced it."""

    text: str
    token_ids: list[int] = field(default_factory=list)  # sampled ids (EOS included when emitted)
    logprobs: list[float] = field(default_factory=list)  # the policy's log-prob of each id
    prefilled: int = 0  # tokens run through the model before this turn
    context_tokens: int | None = None  # prompt + reply tokens, when counted


class ModelTurns:
    """The seam's model side: prefill what the KV cache lacks, then sample (or force a script).
    Another engine (vLLM, a remote server) is another callable with this signature."""

    def __init__(self, decoder: CachedDecoder, config: AgentConfig, generator: torch.Generator | None = None,
                 script: list[str] | None = None):
        self.decoder, self.config, self.generator, self.script = decoder, config, generator, script

    def __call__(self, messages: list[dict], turn: int) -> Turn:
        tok = self.decoder.processor.tokenizer
        logits, prefilled = self.decoder.prefill(messages)
        prompt = len(self.decoder.ids)
        forced = _script_ids(tok, self.script, turn) if self.script is not None else None
        ids, logprobs = decode(self.decoder, logits, self.config, self.generator, forced)
        text = self.script[turn] if self.script is not None else assistant_text(tok, ids)
        return Turn(text, ids, logprobs, prefilled, prompt + len(ids))


class PolicyTurns:
    """The seam's scripted side: `policy(messages) -> the next assistant text`, where `messages`
    is the conversation the model would be shown (windowed; images as PIL under "image")."""

    def __init__(self, policy: Callable[[list[dict]], str]):
        self.policy = policy

    def __call__(self, messages: list[dict], turn: int) -> Turn:
        text = self.policy(messages)
        if not isinstance(text, str):
            raise TypeError(f"the policy must return the next assistant text (a str), got {type(text).__name__}")
        return Turn(text)


def rollout(model, processor, videos: list[str | os.PathLike], prompt: str, config: AgentConfig | None = None,
            media_root: str | Path | None = None, generator: torch.Generator | None = None, *,
            id: str | None = None, labels: dict | None = None, script: list[str] | None = None,
            reuse_cache: bool = True, policy: Callable[[list[dict]], str] | None = None, engine=None,
            seed: int | None = None) -> Trace:
    """One rollout on `videos` (paths, resolved against `media_root` when given).

    Raises `video.errors.VideoError` for an unreadable video before any model work.
    `script`: assistant texts to force instead of sampling (teacher forcing through the
    same cache path; the trace then records the model's log-probs of those tokens).
    `policy`: a function writing each turn instead of the model (`PolicyTurns`; `model` unused).
    `reuse_cache=False` re-prefills the whole context every turn (the benchmark's baseline).
    `engine`: a vLLM `mmreward.engines.Engine` writes the turns instead (`engine_rollout`;
    `seed` seeds its sampling).
    """
    config = config or AgentConfig()
    if policy is not None:
        ep = Episode(prompt, videos, config, id=id)
        with FrameStore.for_config(videos, config, media_root) as store:
            run_episode(ep, store, PolicyTurns(policy), config)
        ep.trace.labels = labels
        return ep.trace
    return rollout_batch(model, processor, videos, prompt, config, 1, media_root, generator, id=id,
                         labels=labels, scripts=[script] if script else None, reuse_cache=reuse_cache,
                         engine=engine, seed=seed)[0]


def rollout_batch(model, processor, videos: list[str | os.PathLike], prompt: str,
                  config: AgentConfig | None = None, n: int = 1, media_root: str | Path | None = None,
                  generator: torch.Generator | None = None, *, id: str | None = None, labels: dict | None = None,
                  scripts: list[list[str]] | None = None, reuse_cache: bool = True,
                  batched: bool = True, engine=None, seed: int | None = None) -> list[Trace]:
    """`n` rollouts of one item (a GRPO group). Frames are decoded once and the first turn's
    prompt is prefilled once. `batched`: the n rollouts are decoded together, one forward
    pass per step for the whole group (`batch.BatchedDecoder`); else one after the other,
    each from a copy of the shared cache. `engine` (vLLM): the engine writes the n rollouts,
    all at once (`engine_rollout.rollout_groups`)."""
    config = config or AgentConfig()
    if engine is not None and engine.name != "hf" and scripts is None:
        from .engine_rollout import rollout_groups

        item = {"videos": videos, "prompt": prompt, "id": id, "labels": labels}
        return rollout_groups(engine, processor, [item], config, n, media_root, [seed])[0]
    if scripts is not None and len(scripts) != n:
        raise ValueError(f"{len(scripts)} scripts for {n} rollouts")
    episodes = [Episode(prompt, videos, config, id=id) for _ in range(n)]
    with FrameStore.for_config(videos, config, media_root) as store:
        if batched and n > 1 and reuse_cache:
            run_group(episodes, BatchedDecoder(model, processor, n), store, config, generator, scripts)
        else:
            _one_by_one(episodes, CachedDecoder(model, processor, reuse=reuse_cache), store, config,
                        generator, scripts)
    for ep in episodes:
        ep.trace.labels = labels
    return [ep.trace for ep in episodes]


def _one_by_one(episodes, shared: CachedDecoder, store, config, generator, scripts) -> None:
    """Each episode from a copy of a cache holding the shared first prompt."""
    n = len(episodes)
    if shared.reuse and n > 1:
        shared.prefill(next_context(episodes[0], store, config))
    for k, ep in enumerate(episodes):
        decoder = shared.fork() if k < n - 1 else shared  # the last one may take the original
        run_episode(ep, store, ModelTurns(decoder, config, generator, scripts[k] if scripts else None), config)


def run_episode(ep: Episode, store: FrameStore, turns: Callable[[list[dict], int], Turn],
                config: AgentConfig) -> Trace:
    """The turn loop: show the windowed context, take the next turn from `turns` (the one seam
    where text is generated), let the environment answer, until the episode ends."""
    while not ep.done:
        take_turn(ep, turns(next_context(ep, store, config), ep.turns_used))
    return ep.trace


def next_context(ep: Episode, store: FrameStore, config: AgentConfig) -> list[dict]:
    """What the model is shown before its next turn: the conversation so far through the memory
    window, frames as images. Every turn source (the HF decoders, a policy, the vLLM engine) is shown this."""
    return materialize(context_for_turn(ep.trace.messages, ep.turns_used, config.memory_window), store)


def take_turn(ep: Episode, turn: Turn) -> bool:
    """Record `turn` in the trace and hand its text to the environment; True when the episode is over."""
    ep.trace.prefill_tokens.append(turn.prefilled)
    ep.trace.turn_token_ids.append(list(turn.token_ids))
    ep.trace.turn_logprobs.append(list(turn.logprobs))
    return ep.step(turn.text, turn.context_tokens)


def run_group(episodes: list[Episode], decoder: BatchedDecoder, store: FrameStore, config: AgentConfig,
              generator: torch.Generator | None = None, scripts: list[list[str]] | None = None) -> None:
    """Drive the episodes turn by turn, the still-running ones in one batch."""
    tok = decoder.processor.tokenizer
    active = [r for r, ep in enumerate(episodes) if not ep.done]
    while active:
        contexts = {r: next_context(episodes[r], store, config) for r in active}
        logits, prefilled = decoder.prefill(contexts)
        prompts = {r: len(decoder.ids[r]) for r in active}
        forced = None
        if scripts is not None:
            forced = {r: _script_ids(tok, scripts[r], episodes[r].turns_used) for r in active}
        outs = decode_group(decoder, logits, config, generator, forced)
        for r in active:
            ids, logprobs = outs[r]
            text = scripts[r][episodes[r].turns_used] if scripts is not None else assistant_text(tok, ids)
            take_turn(episodes[r], Turn(text, ids, logprobs, prefilled[r], prompts[r] + len(ids)))
        active = [r for r in active if not episodes[r].done]


def decode_group(decoder: BatchedDecoder, logits: dict, config: AgentConfig,
                 generator: torch.Generator | None = None, forced: dict | None = None) -> dict:
    """`decode` for several rows at once: {row: (ids, log-probs)}; a row stops on its own."""
    stop = end_of_turn_ids(decoder.processor.tokenizer)
    banned = banned_ids(decoder.processor.tokenizer)
    out = {r: ([], []) for r in logits}
    while logits:
        feed = {}
        for r in sorted(logits):
            ids, lps = out[r]
            if forced is None:
                token, lp = choose(logits[r], config.temperature, config.top_p, generator, banned)
            else:
                token = forced[r][len(ids)]
                lp = float(torch.log_softmax(logits[r], -1)[token])
            ids.append(token)
            lps.append(lp)
            budget = len(forced[r]) if forced is not None else config.max_new_tokens
            done = forced is None and stop_text_reached(decoder.processor.tokenizer, ids, config.speaks.stop_after)
            if token not in stop and len(ids) < budget and not done:
                feed[r] = token  # the last token of a turn is never fed
        logits = decoder.step(feed) if feed else {}
    return out


def _script_ids(tok, script: list[str], turn: int) -> list[int]:
    if turn >= len(script):
        raise ValueError(f"the script has {len(script)} turns; the episode wants turn {turn + 1}")
    return tok.encode(script[turn], add_special_tokens=False) + [tok.convert_tokens_to_ids("<|im_end|>")]


def decode(decoder: CachedDecoder, logits: torch.Tensor, config: AgentConfig,
           generator: torch.Generator | None = None, forced: list[int] | None = None):
    """Sample (or force) tokens until an end-of-turn token, the protocol's stop text or the budget;
    (ids, log-probs)."""
    stop = end_of_turn_ids(decoder.processor.tokenizer)
    banned = banned_ids(decoder.processor.tokenizer)
    budget = len(forced) if forced is not None else config.max_new_tokens
    ids, logprobs = [], []
    for t in range(budget):
        if forced is None:
            token, lp = choose(logits, config.temperature, config.top_p, generator, banned)
        else:
            token = forced[t]
            lp = float(torch.log_softmax(logits, -1)[token])
        ids.append(token)
        logprobs.append(lp)
        done = forced is None and stop_text_reached(decoder.processor.tokenizer, ids, config.speaks.stop_after)
        if token in stop or t == budget - 1 or done:
            break  # the last token is never fed: nothing will be read after it
        logits = decoder.step(token)
    return ids, logprobs


def stop_text_reached(tokenizer, ids: list[int], stop: str | None) -> bool:
    """The reply now ends with the protocol's stop text (e.g. "</tool_call>": the protocol would cut
    anything after it, so nothing after it is generated)."""
    return bool(stop) and stop in tokenizer.decode(ids[-8:], skip_special_tokens=False)


def stop_text_end(tokenizer, ids: list[int], stop: str | None) -> int:
    """How many of `ids` the HF decoders would have generated: up to the token completing the
    protocol's stop text (an engine that cannot stop on text generates past it; this cuts there)."""
    if stop and stop in tokenizer.decode(ids, skip_special_tokens=False):
        return next(k for k in range(1, len(ids) + 1) if stop_text_reached(tokenizer, ids[:k], stop))
    return len(ids)


def end_of_turn_ids(tokenizer) -> set[int]:
    return {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}


def banned_ids(tokenizer) -> torch.Tensor:
    """Special tokens the model may not sample: all but the end-of-turn ones."""
    stop = end_of_turn_ids(tokenizer)
    return torch.tensor(sorted(i for i in _special_tokens(tokenizer) if i not in stop), dtype=torch.long)


def assistant_text(tokenizer, ids: list[int]) -> str:
    """The text of sampled ids, without chat-control or vision tokens.

    Those would change the conversation's structure when the text is rendered back
    into the chat template (an <|image_pad|> would even demand an image), so they
    are dropped, as ids and as literal strings.
    """
    special = _special_tokens(tokenizer)
    text = tokenizer.decode([i for i in ids if i not in special], skip_special_tokens=False)
    for s in special.values():
        text = text.replace(s, "")
    return text


def _special_tokens(tokenizer) -> dict[int, str]:
    """Added tokens flagged special (<|im_start|>, <|vision_start|>, ...); <tool_call> is not one."""
    cached = getattr(tokenizer, "_mmreward_special", None)
    if cached is None:
        cached = {i: t.content for i, t in tokenizer.added_tokens_decoder.items() if t.special}
        tokenizer._mmreward_special = cached
    return cached
