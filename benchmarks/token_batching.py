"""Token-budgeted batches vs fixed batches in input order, same tiny model, same mixed file.

    python benchmarks/token_batching.py [--records 192] [--batch-size 8] [--repeats 2]

The mixed file is what real data looks like: mostly short text pairs and small-image
pairs, some records with several photo-sized images, a few long texts. "fixed" is the
engine before token budgets: chunks of `batch_size` records, their prompts in batches of
`batch_size` in input order, each padded to its longest. "budgeted" is the engine now:
chunks of 4 x batch_size records, prompts sorted by length, packed under the padded-token
budget (--max-batch-tokens, 16384 on CPU). Prints real and padded tokens, the padding
share, seconds and records/s of each, and checks both give the same rewards.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import mmreward  # noqa: E402
import mmreward.scoring.engine as engine  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402


@dataclass
class Settings:
    records: int = field(default=192, metadata={"help": "records in the mixed file"})
    batch_size: int = field(default=8, metadata={"help": "prompts per forward pass, at most"})
    repeats: int = field(default=2, metadata={"help": "timed runs of each; the best is shown"})


def mixed_records(root: str, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    for k in range(6):
        Image.fromarray(rng.integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(f"{root}/small{k}.png")
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(f"{root}/photo{k}.jpg")
    words = "the quick brown fox jumps over the lazy dog and keeps running".split()
    records = []
    for i in range(n):
        kind = rng.choice(["text", "small", "photos", "long"], p=[0.45, 0.35, 0.12, 0.08])
        prompt = " ".join(rng.choice(words, 8))
        if kind == "text":
            cands = [{"text": " ".join(rng.choice(words, 12))}, {"text": " ".join(rng.choice(words, 12))}]
        elif kind == "small":
            cands = [{"images": [f"small{rng.integers(6)}.png"]}, {"images": [f"small{rng.integers(6)}.png"]}]
        elif kind == "photos":
            k = int(rng.integers(2, 5))
            cands = [{"images": [f"photo{rng.integers(6)}.jpg" for _ in range(k)]}, {"text": "none"}]
        else:
            cands = [{"text": " ".join(rng.choice(words, 1500))}, {"text": "short answer"}]
        records.append({"id": f"r{i}", "prompt": prompt, "candidates": cands})
    return records


def fixed_batches(lengths, max_rows, max_tokens):
    """The engine before token budgets: consecutive prompts, `max_rows` at a time."""
    return [list(range(i, min(i + max_rows, len(lengths)))) for i in range(0, len(lengths), max_rows)]


def run(rm, records, root, batch_size, fixed: bool):
    rm.scorer.stats = dict.fromkeys(rm.scorer.stats, 0)
    if fixed:
        with mock.patch.object(engine, "token_batches", fixed_batches), \
                mock.patch.object(type(rm), "CHUNK_BATCHES", 1):
            outs = rm.score(records, media_root=root, batch_size=batch_size)
    else:
        outs = rm.score(records, media_root=root, batch_size=batch_size)
    return outs, dict(rm.scorer.stats)


def main() -> None:
    args = parse_script(Settings, __doc__)
    root = tempfile.mkdtemp(prefix="mmreward-token-batching-")
    records = mixed_records(root, args.records)
    rm = mmreward.load("tiny", "scalar", device="cpu")
    rm.score(records[:16], media_root=root, batch_size=args.batch_size)  # warm-up

    results = {}
    for name, fixed in (("fixed", True), ("budgeted", False)):
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            outs, stats = run(rm, records, root, args.batch_size, fixed)
            best = min(best, time.perf_counter() - t)
        results[name] = (best, outs, stats)

    print(f"records: {args.records}   batch size: {args.batch_size}   torch threads: {torch.get_num_threads()}   "
          f"best of {args.repeats}")
    for name, (secs, _, st) in results.items():
        pad = 1 - st["tokens"] / st["padded_tokens"]
        print(f"{name:9s}: {st['batches']:4d} forward passes, {st['tokens']:8,d} real tokens, "
              f"{st['padded_tokens']:9,d} padded tokens ({pad:5.1%} padding), {secs:7.2f} s, "
              f"{args.records / secs:6.1f} records/s")
    (t_fixed, a, s_fixed), (t_budget, b, s_budget) = results["fixed"], results["budgeted"]
    diff = max(abs(x - y) for p, q in zip(a, b) for x, y in zip(p["rewards"], q["rewards"]))
    print(f"padded tokens: {s_fixed['padded_tokens'] / s_budget['padded_tokens']:.2f}x fewer; "
          f"speed-up: {t_fixed / t_budget:.2f}x; max |reward difference|: {diff:.1e}")


if __name__ == "__main__":
    main()
