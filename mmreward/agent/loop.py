"""The agent loop: a VLM judges videos, calling select_frames to look at more frames.

    trace = rollout(model, processor, ["a.mp4", "b.mp4"], "a cat surfing", AgentConfig())

Per turn: build the windowed context (`context.context_for_turn`), prefill what
the KV cache does not already hold (`kv.CachedDecoder`), decode until
<|im_end|> or `max_new_tokens`, and hand the text to the environment
(`episode.Episode`), which answers with frames, an error, or ends the rollout.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import AgentConfig
from .context import context_for_turn
from .episode import Episode
from .frames import FrameStore, materialize
from .batch import BatchedDecoder
from .kv import CachedDecoder
from .sampling import choose
from .trace import Trace


def rollout(model, processor, videos: list[str | os.PathLike], prompt: str, config: AgentConfig | None = None,
            media_root: str | Path | None = None, generator: torch.Generator | None = None, *,
            id: str | None = None, labels: dict | None = None, script: list[str] | None = None,
            reuse_cache: bool = True, engine=None, seed: int | None = None) -> Trace:
    """One rollout on `videos` (paths, resolved against `media_root` when given).

    Raises `video.errors.VideoError` for an unreadable video before any model work.
    `script`: assistant texts to force instead of sampling (teacher forcing through the
    same cache path; the trace then records the model's log-probs of those tokens).
    `reuse_cache=False` re-prefills the whole context every turn (the benchmark's baseline).
    `engine`: a vLLM `mmreward.engines.Engine` writes the turns instead (`engine_rollout`;
    `seed` seeds its sampling).
    """
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
    with FrameStore(videos, config.candidate_frames, config.frame_max_pixels, media_root) as store:
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
        shared.prefill(materialize(context_for_turn(episodes[0].trace.messages, 0, config.memory_window), store))
    for k, ep in enumerate(episodes):
        decoder = shared.fork() if k < n - 1 else shared  # the last one may take the original
        run_episode(ep, decoder, store, config, generator, scripts[k] if scripts else None)


def run_episode(ep: Episode, decoder: CachedDecoder, store: FrameStore, config: AgentConfig,
                generator: torch.Generator | None = None, script: list[str] | None = None) -> Trace:
    tok = decoder.processor.tokenizer
    while not ep.done:
        i = ep.turns_used
        context = context_for_turn(ep.trace.messages, i, config.memory_window)
        logits, prefilled = decoder.prefill(materialize(context, store))
        forced = _script_ids(tok, script, i) if script is not None else None
        ids, logprobs = decode(decoder, logits, config, generator, forced)
        ep.trace.prefill_tokens.append(prefilled)
        ep.trace.turn_token_ids.append(ids)
        ep.trace.turn_logprobs.append(logprobs)
        ep.step(script[i] if script is not None else assistant_text(tok, ids))
    return ep.trace


def run_group(episodes: list[Episode], decoder: BatchedDecoder, store: FrameStore, config: AgentConfig,
              generator: torch.Generator | None = None, scripts: list[list[str]] | None = None) -> None:
    """Drive the episodes turn by turn, the still-running ones in one batch."""
    tok = decoder.processor.tokenizer
    active = [r for r, ep in enumerate(episodes) if not ep.done]
    while active:
        contexts = {r: materialize(context_for_turn(episodes[r].trace.messages, episodes[r].turns_used,
                                                    config.memory_window), store) for r in active}
        logits, prefilled = decoder.prefill(contexts)
        forced = None
        if scripts is not None:
            forced = {r: _script_ids(tok, scripts[r], episodes[r].turns_used) for r in active}
        outs = decode_group(decoder, logits, config, generator, forced)
        for r in active:
            ids, logprobs = outs[r]
            t = episodes[r].trace
            t.prefill_tokens.append(prefilled[r])
            t.turn_token_ids.append(ids)
            t.turn_logprobs.append(logprobs)
            text = scripts[r][episodes[r].turns_used] if scripts is not None else assistant_text(tok, ids)
            episodes[r].step(text)
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
            if token not in stop and len(ids) < budget:
                feed[r] = token  # the last token of a turn is never fed
        logits = decoder.step(feed) if feed else {}
    return out


def _script_ids(tok, script: list[str], turn: int) -> list[int]:
    if turn >= len(script):
        raise ValueError(f"the script has {len(script)} turns; the episode wants turn {turn + 1}")
    return tok.encode(script[turn], add_special_tokens=False) + [tok.convert_tokens_to_ids("<|im_end|>")]


def decode(decoder: CachedDecoder, logits: torch.Tensor, config: AgentConfig,
           generator: torch.Generator | None = None, forced: list[int] | None = None):
    """Sample (or force) tokens until an end-of-turn token or the budget; (ids, log-probs)."""
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
        if token in stop or t == budget - 1:
            break  # the last token is never fed: nothing will be read after it
        logits = decoder.step(token)
    return ids, logprobs


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
