"""Rollouts on an inference engine (`mmreward.engines`, vLLM): many episodes at once.

The turn loop of `loop.py` with the engine writing the next assistant text: every still-running
episode of every item is one request per turn, all submitted together (continuous batching). The
protocol is the HF loop's, through the same code: each request is the context `loop.next_context`
shows (the conversation through the memory window, rendered again as training renders it), and each
completion is a `loop.Turn` handed to `loop.take_turn` (the episode's protocol reads the tool call,
answers with frames or its error text, or ends the episode). The engine's prefix cache finds what
an earlier turn already computed, so a turn prefills only what the memory window changed and the
new user turn (`Trace.prefill_tokens` = the prompt tokens not served from the cache). Decoding is
the HF loop's: greedy or temperature / top-p, chat-control and vision tokens banned, up to
`max_new_tokens`, stopping at the end of the turn or after the protocol's stop text (the engine
stops on tokens only, so the completion is cut there: `loop.stop_text_end`); the log-probabilities
recorded are the model's own (temperature 1, unmasked).
"""
from __future__ import annotations

import zlib
from contextlib import ExitStack
from typing import Callable

from .config import AgentConfig
from .episode import Episode
from .frames import FrameStore, images_of
from .loop import Turn, assistant_text, banned_ids, end_of_turn_ids, next_context, stop_text_end, take_turn
from .turns import render


def turn_seed(seed: int | None, row: int, turn: int) -> int | None:
    """A request's sampling seed: a function of the group's seed, the rollout and the turn."""
    if seed is None:
        return None
    return zlib.crc32(f"{seed}/{row}/{turn}".encode()) & 0x7FFFFFFF


def rollout_groups(engine, processor, items: list[dict], config: AgentConfig, n: int = 1,
                   media_root=None, seeds: list[int | None] | None = None) -> list[list]:
    """`n` rollouts of each item (`{"videos", "prompt", "id"?, "labels"?}`) -> a list of traces
    per item. `seeds[i]` seeds item i's group (None: unseeded)."""
    seeds = seeds or [None] * len(items)
    with ExitStack() as stack:
        stores = [stack.enter_context(FrameStore.for_config(it["videos"], config, media_root)) for it in items]
        groups = [[Episode(it["prompt"], it["videos"], config, id=it.get("id")) for _ in range(n)] for it in items]
        run_episodes(engine, processor, [ep for group in groups for ep in group],
                     [store for store in stores for _ in range(n)], config,
                     lambda k, turn: turn_seed(seeds[k // n], k % n, turn))
    for it, group in zip(items, groups):
        for ep in group:
            ep.trace.labels = it.get("labels")
    return [[ep.trace for ep in group] for group in groups]


def run_episodes(engine, processor, episodes: list[Episode], stores: list[FrameStore], config: AgentConfig,
                 seed: Callable[[int, int], int | None] | None = None) -> None:
    """Run every episode (episode k shows the frames of `stores[k]`) to its end, all at once: each
    turn, one request per episode still running. `seed(k, turn)`: the request's sampling seed."""
    from mmreward.engines import Request, Sampling

    tok = processor.tokenizer
    stop, banned = tuple(sorted(end_of_turn_ids(tok))), tuple(banned_ids(tok).tolist())
    active = [k for k, ep in enumerate(episodes) if not ep.done]
    while active:
        requests, settings = [], []
        for k in active:
            context = next_context(episodes[k], stores[k], config)
            images = images_of(context)
            requests.append(Request(render(processor, context), {"images": images} if images else {}))
            settings.append(Sampling(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                     top_p=config.top_p, seed=seed(k, episodes[k].turns_used) if seed else None,
                                     stop_token_ids=stop, banned_token_ids=banned, logprobs=True,
                                     generation_config=False))
        for k, done in zip(active, engine.generate(requests, settings)):
            end = stop_text_end(tok, done.token_ids, config.speaks.stop_after)
            ids, logprobs = done.token_ids[:end], (done.logprobs or [])[:end]
            take_turn(episodes[k], Turn(assistant_text(tok, ids), ids, logprobs,
                                        done.prompt_tokens - done.cached_tokens, done.prompt_tokens + end))
        active = [k for k in active if not episodes[k].done]
