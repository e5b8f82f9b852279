"""Many threads, one model: shared forward passes (the in-process batcher) vs a plain lock.

    python benchmarks/shared_passes.py [--calls 320] [--threads 16] [--batch-size 8]

Each of `--threads` threads calls `score([one record])` until `--calls` calls are done, as verl's
reward workers and OpenRLHF's rollout executor call a reward function: one response at a time.
- lock: the calls take turns on the model (each runs its own forward pass), which is what a lock
  around `score` gives;
- shared: `model.score` as it is, where calls waiting at the same time share passes
  (`mmreward.scoring.batcher`).
Prints seconds, calls/s, forward passes and the speed-up; checks both give the serial rewards.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

import mmreward  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from mmreward.synth.images import make_image_pairs  # noqa: E402


@dataclass
class Settings:
    calls: int = 320
    threads: int = 16
    batch_size: int = 8
    distinct: int = field(default=16, metadata={"help": "distinct records the calls cycle through"})
    torch_threads: int | None = field(default=None, metadata={"help": "torch threads (default: torch's)"})


def records_for(root, n: int) -> list[dict]:
    """Pointwise records of different lengths, half with an image (a response judged with its prompt)."""
    pairs = make_image_pairs(root, n, seed=0, size=56)
    return [{"id": i, "prompt": f"{p['prompt']} (row {i})", "images": p["candidates"][0]["images"] if i % 2 else [],
             "candidates": [{"text": "It is a " + "very " * (i % 5) + "nice shape."}]} for i, p in enumerate(pairs)]


def run(call, calls: int, threads: int):
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outs = list(pool.map(call, range(calls)))
    return time.perf_counter() - t, outs


def main() -> None:
    args = parse_script(Settings, __doc__)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    root = tempfile.mkdtemp(prefix="mmreward-shared-")
    records = records_for(root, args.distinct)
    rm = mmreward.load("tiny", "scalar", device="cpu")
    serial = [rm.score([r], media_root=root)[0]["rewards"][0] for r in records]  # also the warm-up
    lock = threading.Lock()

    def locked(k):
        with lock:  # the model's own score_chunk, one call at a time: no sharing
            return rm.score_chunk([records[k % len(records)]], root, args.batch_size)[0]

    def shared(k):
        return rm.score([records[k % len(records)]], media_root=root, batch_size=args.batch_size)[0]

    results = {}
    for name, call in (("lock", locked), ("shared", shared)):
        before = rm.scorer.stats["batches"]
        seconds, outs = run(call, args.calls, args.threads)
        diff = max(abs(o["rewards"][0] - serial[k % len(records)]) for k, o in enumerate(outs))
        results[name] = (seconds, rm.scorer.stats["batches"] - before, diff)

    print(f"{args.calls} calls of one record from {args.threads} threads, batch size {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}, transformers {__import__('transformers').__version__}")
    for name, (seconds, passes, diff) in results.items():
        print(f"{name:7s}: {seconds:7.2f} s  {args.calls / seconds:7.1f} calls/s  {passes:4d} forward passes  "
              f"max |reward - serial|: {diff:.1e}")
    print(f"sharing passes saves {1 - results['shared'][0] / results['lock'][0]:.0%} of the lock's time "
          f"({results['lock'][0] / results['shared'][0]:.2f}x)")


if __name__ == "__main__":
    main()
