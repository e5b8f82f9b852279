"""The model deployment: one replica holds one reward model and scores dynamic batches.

Records from concurrent requests are gathered by `serve.batch` (up to `max_batch_size`
records, waiting at most `max_wait_ms` for more) into one `score` call; records that
arrive while it runs form the next batch. A batch that makes the model raise is retried record by record, so only the record at fault
gets an error entry.
"""
from __future__ import annotations

import logging
import os

from ray import serve

logger = logging.getLogger("ray.serve")


def records_in(pieces: list) -> int:
    """`serve.batch`'s size of a batch: records, not calls (each call carries a list of records)."""
    return sum(len(piece) for piece in pieces)


@serve.deployment(name="RewardModel")
class ModelServer:
    def __init__(self, load_kwargs: dict, media_root: str | None, batch_size: int, max_batch_size: int,
                 max_wait_s: float, threads: int | None):
        import torch

        import mmreward

        if threads:
            torch.set_num_threads(threads)
        load_kwargs = dict(load_kwargs)
        self.model = mmreward.load(load_kwargs.pop("name"), load_kwargs.pop("mode", None), **load_kwargs)
        self.media_root, self.batch_size = media_root, batch_size
        self.replica = serve.get_replica_context().replica_id.unique_id
        self.batches = 0
        self.score.set_max_batch_size(max_batch_size)
        self.score.set_batch_wait_timeout_s(max_wait_s)
        logger.info("mmreward model replica %s (pid %d) loaded %s", self.replica, os.getpid(), self.model.info)

    def info(self) -> dict:
        return {**self.model.info, "replica": self.replica}

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01, batch_size_fn=records_in)
    async def score(self, pieces: list[list[dict]]) -> list[dict]:
        """Each call brings a list of records; each gets back its outputs and the batch's identity."""
        self.batches += 1
        batch = {"replica": self.replica, "batch": self.batches, "size": records_in(pieces)}
        flat = [record for piece in pieces for record in piece]
        # On this replica's user-code loop on purpose: requests that arrive meanwhile wait in
        # Serve's system loop and join the next batch all at once. (Run in a worker thread, the
        # forward pass's Python work starved their intake of the GIL: batches of 2 records
        # instead of 9 under 32 concurrent clients on 2 cores.)
        outputs = self.score_safely(flat)
        answers, start = [], 0
        for piece in pieces:
            answers.append({"outputs": outputs[start:start + len(piece)], **batch})
            start += len(piece)
        return answers

    def score_safely(self, records: list[dict]) -> list[dict]:
        try:
            return self.model.score(records, media_root=self.media_root, batch_size=self.batch_size)
        except Exception:  # noqa: BLE001 - find the record at fault below; the server stays up
            logger.exception("a batch of %d records failed; scoring them one by one", len(records))
        outputs = []
        for record in records:
            try:
                outputs.extend(self.model.score([record], media_root=self.media_root, batch_size=self.batch_size))
            except Exception as exc:  # noqa: BLE001
                logger.exception("record %r failed", record.get("id"))
                outputs.append({"id": record.get("id"), "error": f"model failed: {type(exc).__name__}: {exc}"})
        return outputs
