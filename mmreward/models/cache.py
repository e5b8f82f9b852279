"""A KV cache passed to a transformers model under the name its release uses.

transformers 5.25 renamed the forward argument `past_key_values` to `cache` (the old name still
works there, with a deprecation warning); releases before it take only `past_key_values` and
silently ignore a `cache=` keyword, so a decoder would recompute from its new tokens alone with
no cached context. The name is read from the model's own signature, so every release in the
supported range gets the cache it reads.
"""
from __future__ import annotations

import inspect
from functools import lru_cache


@lru_cache(maxsize=None)
def _cache_argument(forward_type: type) -> str:
    params = inspect.signature(forward_type.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kwargs(model, cache) -> dict:
    """`{name: cache}` for `model(...)`: "cache" where the model's forward takes it, else "past_key_values"."""
    return {_cache_argument(type(model)): cache}

