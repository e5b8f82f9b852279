"""Rollouts on an inference engine (`mmreward.engines`, vLLM): many episodes at once.

The turn loop of `loop.py` with the engine writing the next assistant text: every still-running
episode of every item is one request per turn, all submitted together (continuous batching), and
each request is the whole windowed context rendered again (`context.context_for_turn`, as
training renders it). The engine's prefix cache finds what an earlier turn already computed, so
a turn prefills only what the memory window changed and the new user turn
(`Trace.prefill_tokens` = the prompt tokens not served from the cache). Decoding is the HF
loop's: greedy or temperature / top-p, chat-control and vision tokens banned, up to
`max_new_tokens`, stopping at the end of the turn; the log-probabilities recorded are the
model's own (temperature 1, unmasked).
"""
from __future__ import annotations

import zlib
from contextlib import ExitStack

from .config import AgentConfig
from .context import context_for_turn
from .episode import Episode
from .frames import FrameStore, images_of, materialize
from .loop import assistant_text, banned_ids, end_of_turn_ids


def turn_seed(seed: int | None, row: int, turn: int) -> int | None:
    """A request's sampling seed: a function of the group's seed, the rollout and the turn."""
    if seed is None:
        return None
    return zlib.crc32(f"{seed}/{row}/{turn}".encode()) & 0x7FFFFFFF


def rollout_groups(engine, processor, items: list[dict], config: AgentConfig, n: int = 1,
                   media_root=None, seeds: list[int | None] | None = None) -> list[list]:
    """`n` rollouts of each item (`{"videos", "prompt", "id"?, "labels"?}`) -> a list of traces
    per item. `seeds[i]` seeds item i's group (None: unseeded)."""
    from mmreward.engines import Request, Sampling

    seeds = seeds or [None] * len(items)
    tok = processor.tokenizer
    stop, banned = tuple(sorted(end_of_turn_ids(tok))), tuple(banned_ids(tok).tolist())
    with ExitStack() as stack:
        stores = [stack.enter_context(FrameStore(it["videos"], config.candidate_frames, config.frame_max_pixels,
                                                 media_root)) for it in items]
        groups = [[Episode(it["prompt"], it["videos"], config, id=it.get("id")) for _ in range(n)] for it in items]
        active = [(i, r) for i in range(len(items)) for r in range(n)]
        while active:
            requests, settings = [], []
            for i, r in active:
                ep = groups[i][r]
                context = materialize(context_for_turn(ep.trace.messages, ep.turns_used, config.memory_window),
                                      stores[i])
                text = processor.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
                images = images_of(context)
                requests.append(Request(text, {"images": images} if images else {}))
                settings.append(Sampling(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                         top_p=config.top_p, seed=turn_seed(seeds[i], r, ep.turns_used),
                                         stop_token_ids=stop, banned_token_ids=banned, logprobs=True,
                                         generation_config=False))
            for (i, r), done in zip(active, engine.generate(requests, settings)):
                t = groups[i][r].trace
                t.prefill_tokens.append(done.prompt_tokens - done.cached_tokens)
                t.turn_token_ids.append(done.token_ids)
                t.turn_logprobs.append(done.logprobs)
                groups[i][r].step(assistant_text(tok, done.token_ids))
            active = [(i, r) for i, r in active if not groups[i][r].done]
    for it, group in zip(items, groups):
        for ep in group:
            ep.trace.labels = it.get("labels")
    return [[ep.trace for ep in group] for group in groups]
