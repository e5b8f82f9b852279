"""Many callers, one model: concurrent calls share forward passes (an in-process dynamic batcher).

RL frameworks call one loaded reward model from many threads at once (verl's reward workers,
OpenRLHF's rollout executor) or from asyncio (verl's `compute_score_async`, TRL's async reward
functions). Two calls must never run the model at the same time: the tokenizers of
transformers before 5.25 fail with `Already borrowed` when two threads pad at once, and a
model's per-call state (the failfast counters, a lazily chosen token budget) is not theirs to
share. A lock would make that safe and slow: every call would run its own small batches.

Instead each model has a queue. A call puts its chunk of records on it and waits; one worker
thread (started when work arrives, gone when the queue is empty) takes the oldest chunk plus
every queued chunk with the same media root and batch size that still fits in one chunk
(`model.chunk_size(batch_size)`), scores them with one `score_chunk` call, so their prompts
are sorted and packed into shared forward passes, and hands each call its own outputs, in
order. This is what `mmreward serve` does across requests, done in process. A lone caller's
chunks are scored exactly as before (same chunks, same passes), so its results do not change;
records of several callers scored together may differ from serial ones in the last float32
bits (a padded batch of another shape), as any batching does.

A merged chunk that raises (a bug, never a record's fault: those are error outputs) is rerun
call by call, so each exception reaches only the call whose records raise it.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class Job:
    records: list
    media_root: object
    batch_size: int
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple:
        root = self.media_root
        return (os.fspath(root) if root is not None else None, self.batch_size)


class SharedPasses:
    """The queue and worker of one model (`BaseRewardModel.score_iter` / `ascore` go through it)."""

    #: after a round of N calls, wait at most this long for N calls to be queued again: the
    #: callers just answered usually come straight back, and a round of 2 where 16 could have
    #: shared one pass costs 8 passes (a forward pass takes far longer than this)
    max_wait_s = 0.005

    def __init__(self, model):
        self.model = model
        self.jobs: deque[Job] = deque()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.worker: threading.Thread | None = None
        self.stats = {"rounds": 0, "calls": 0}

    def submit(self, records: list, media_root, batch_size: int) -> Future:
        """A future of `records`' outputs (one dict per record, in order)."""
        job = Job(records, media_root, batch_size)
        if threading.current_thread() is self.worker:  # the model scores through itself: no queue
            self._run([job])
            return job.future
        with self.lock:
            self.jobs.append(job)
            self.arrived.notify()
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, name=f"mmreward-passes-{id(self):x}",
                                               daemon=True)
                self.worker.start()
        return job.future

    def score_chunk(self, records: list, media_root, batch_size: int) -> list[dict]:
        return self.submit(records, media_root, batch_size).result()

    def _work(self) -> None:
        callers = 1
        while True:
            with self.lock:
                deadline = time.monotonic() + self.max_wait_s
                while len(self.jobs) < callers and (left := deadline - time.monotonic()) > 0:
                    self.arrived.wait(left)
                if not self.jobs:
                    self.worker = None
                    return
                jobs = self._take()
            self._run(jobs)
            callers = len(jobs)

    def _take(self) -> list[Job]:
        """The oldest job and the queued jobs that can share its chunk."""
        head = self.jobs.popleft()
        room = self.model.chunk_size(head.batch_size) - len(head.records)
        taken = [head]
        for job in list(self.jobs):
            if job.key == head.key and len(job.records) <= room:
                self.jobs.remove(job)
                taken.append(job)
                room -= len(job.records)
        return taken

    def _run(self, jobs: list[Job]) -> None:
        self.stats["rounds"] += 1
        self.stats["calls"] += len(jobs)
        head = jobs[0]
        try:
            outputs = self.model.score_chunk([r for job in jobs for r in job.records], head.media_root,
                                             head.batch_size)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller(s) it belongs to
            if len(jobs) == 1:
                head.future.set_exception(exc)
            else:
                for job in jobs:
                    self._run([job])
            return
        start = 0
        for job in jobs:
            job.future.set_result(outputs[start:start + len(job.records)])
            start += len(job.records)
