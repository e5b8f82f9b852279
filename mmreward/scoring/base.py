"""What every reward model that mmreward loads offers: records in, output dicts out.

A Qwen-VL reward model (`mmreward.qwen_vl.RewardModel`), a released model preset, a
CLIP-family or OCR reward, a combination of rewards and a client of a remote
`mmreward serve` all subclass `BaseRewardModel`, so the CLI (`score`, `eval run`,
`probe`), the service, the app and the RL adapters treat them alike.

Subclasses implement `score_chunk` (one chunk of records -> one output dict per
record, in order, built by `mmreward.scoring.outputs`: `{"id", "rewards", "preferred", ...}`,
or `{"id", "error"}` for a record that cannot be scored) and describe themselves in `info`.
Every model may be called from many threads and from asyncio at once: `score`, `score_iter`
and `ascore` hand their chunks to the model's `mmreward.scoring.batcher.SharedPasses`, which
runs one `score_chunk` at a time and lets concurrent calls share it.
"""
from __future__ import annotations

import abc
import asyncio
import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping

from tqdm.auto import tqdm

from mmreward.errors import ConfigError
from mmreward.scoring.batcher import SharedPasses

_passes_lock = threading.Lock()


def check_batch_size(batch_size) -> int:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def as_record_list(records) -> list:
    """`records` as a list; a single record (a dict) is a mistake worth a clear message."""
    if isinstance(records, Mapping):
        raise TypeError("score() takes a list of records; wrap a single record in a list: score([record])")
    if isinstance(records, (str, bytes)):
        raise TypeError(f"score() takes a list of records, got {type(records).__name__}")
    return list(records)


class BaseRewardModel(abc.ABC):
    #: what the model is; `info` adds to it. Keys: "name", "kind" ("scalar", "generative",
    #: "clip", "ocr", "combo", "remote", ...), "dimensions" (named outputs besides the reward),
    #: "untrained_head" (True when the scores come from a freshly initialised head),
    #: "calibrated" (the calibration applied on load, or absent), "inputs" (what of a candidate it
    #: reads, e.g. ["images"]; absent: everything), "reads_prompt" (False for a prompt-blind score).
    kind: str = "reward"
    #: False where `score_chunk` is safe to run concurrently and batching is done elsewhere
    #: (a remote model: the service batches across requests)
    shares_passes: bool = True

    @property
    def info(self) -> dict:
        return {"name": getattr(self, "name", type(self).__name__), "kind": self.kind, "dimensions": []}

    @abc.abstractmethod
    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        """One output dict per record of `records`, in order."""

    def chunk_size(self, batch_size: int) -> int:
        """Records per `score_chunk` call; bounds memory on large files."""
        return max(1, batch_size)

    @property
    def passes(self) -> SharedPasses:
        """This model's queue of chunks to score (created on first use)."""
        passes = self.__dict__.get("_passes")
        if passes is None:
            with _passes_lock:
                passes = self.__dict__.setdefault("_passes", SharedPasses(self))
        return passes

    def _score_chunk_shared(self, chunk: list, media_root, batch_size: int) -> list[dict]:
        if not self.shares_passes:
            return self.score_chunk(chunk, media_root, batch_size)
        return self.passes.score_chunk(chunk, media_root, batch_size)

    def score_iter(self, records: Iterable, media_root=None, batch_size: int = 8, progress: bool = False,
                   total: int | None = None) -> Iterator[list[dict]]:
        """Yield lists of outputs chunk by chunk (input order), for callers that write as they go."""
        if isinstance(records, (Mapping, str, bytes)):
            as_record_list(records)  # raises the helpful TypeError
        check_batch_size(batch_size)
        it = iter(records)
        bar = tqdm(total=total, unit="item", desc="scoring", disable=not progress)
        try:
            while chunk := list(itertools.islice(it, self.chunk_size(batch_size))):
                outs = self._score_chunk_shared(chunk, media_root, batch_size)
                bar.update(len(chunk))
                yield outs
        finally:
            bar.close()

    def score(self, records, media_root=None, batch_size: int = 8, progress: bool = False) -> list[dict]:
        """One output dict per record, in order (docs/architecture.md, "Scoring records")."""
        records = as_record_list(records)
        out: list[dict] = []
        for chunk in self.score_iter(records, media_root, batch_size, progress, total=len(records)):
            out.extend(chunk)
        return out

    async def ascore(self, records, media_root=None, batch_size: int = 8) -> list[dict]:
        """`score` for async code: the event loop keeps running while the chunks are scored
        (together with other calls' chunks)."""
        records = as_record_list(records)
        check_batch_size(batch_size)
        size = self.chunk_size(batch_size)
        chunks = [records[k:k + size] for k in range(0, len(records), size)]
        if not self.shares_passes:
            results = await asyncio.gather(*(asyncio.to_thread(self.score_chunk, c, media_root, batch_size)
                                             for c in chunks))
        else:
            results = await asyncio.gather(*(asyncio.wrap_future(self.passes.submit(c, media_root, batch_size))
                                             for c in chunks))
        return [out for outs in results for out in outs]
