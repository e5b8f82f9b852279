"""The engine interface (docs/architecture.md, "Engines").

A `Request` is one prompt as the checkpoint's processor takes it: the chat-template text with one
placeholder per image / video, and the processor's media keyword arguments. An engine
- `generate`s completions for many requests at once (`Sampling` says how), and
- reads `choice_logprobs`: the log-probabilities of a few given tokens as the next token after
  each prompt, renormalised over those tokens (the yes-token judge's P(yes) vs P(no)),
- takes a model's current weights (`load_weights`, the RL loops' sync before each rollout batch).
Completions carry token ids and the text decoded by the checkpoint's tokenizer (the same call
for every engine, so equal ids give equal texts).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from mmreward.errors import ConfigError


@dataclass
class Request:
    text: str  # rendered chat-template prompt: one <|image_pad|> / <|video_pad|> per item
    media: dict = field(default_factory=dict)  # processor kwargs: images, videos, video_metadata, ...


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None  # per request (vLLM); HF seeds torch's generator for the call
    stop_token_ids: tuple[int, ...] | None = None  # None: the checkpoint's generation config
    banned_token_ids: tuple[int, ...] = ()  # never generated
    logprobs: bool = False  # the log-probability of each generated token (temperature 1, unmasked)
    # start from the checkpoint's generation config (repetition penalty, ...), as
    # `model.generate` does; False: plain temperature / top-p sampling (the agent's own sampler)
    generation_config: bool = True


@dataclass
class Completion:
    token_ids: list[int]  # the end-of-turn token included when it was generated
    text: str  # decoded with special tokens skipped
    logprobs: list[float] | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose keys / values came from a cache


class Engine(ABC):
    name: str = ""

    @abstractmethod
    def generate(self, requests: list[Request], sampling: Sampling | list[Sampling]) -> list[Completion]:
        """One completion per request, in order."""

    @abstractmethod
    def choice_logprobs(self, requests: list[Request], token_ids: list[int]) -> list[list[float]]:
        """Per request: log P(next token = t) for t in `token_ids`, renormalised over them."""

    def load_weights(self, model) -> None:
        """Take `model`'s current weights (a transformers model of this checkpoint's architecture)."""

    def close(self) -> None:
        """Free what the engine holds (processes, caches)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_engine(name: str | None) -> str:
    from mmreward.engines import ENGINES

    name = name or "hf"
    if name not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}")
    return name


def per_request(sampling: Sampling | list[Sampling], n: int) -> list[Sampling]:
    if isinstance(sampling, Sampling):
        return [sampling] * n
    if len(sampling) != n:
        raise ValueError(f"{len(sampling)} sampling settings for {n} requests")
    return list(sampling)


def decode(tokenizer, ids: list[int]) -> str:
    """What `processor.batch_decode(..., skip_special_tokens=True)` gives, for one completion."""
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def merge_media(requests: list[Request]) -> dict:
    """The processor kwargs of several requests in one call: media lists concatenated in request
    order; the other settings (do_sample_frames, do_resize, ...) must agree."""
    out: dict = {}
    for r in requests:
        for key, value in r.media.items():
            if key in ("images", "videos", "video_metadata"):
                out.setdefault(key, []).extend(value)
            elif key in out and out[key] != value:
                raise ValueError(f"requests batched together disagree on the processor setting {key!r}")
            else:
                out[key] = value
    return out
