"""Batched `score` vs a plain per-pair transformers loop, same tiny model, same 64 pairs.

    python benchmarks/scoring_throughput.py [--pairs 64] [--batch-size 16] [--repeats 3]

The plain loop is what one writes first: for each pair, process both candidates,
call the model's standard forward (which projects every position onto the
152k-token vocabulary), and read the last hidden state into the same head.
Prints seconds, pairs/s and the speed ratio; checks both give the same rewards.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

import mmreward  # noqa: E402
from mmreward.scoring.batching import render  # noqa: E402
from mmreward.models.head import OVERALL, last_token_hidden  # noqa: E402
from mmreward.scoring.media import MediaOptions  # noqa: E402
from mmreward.scoring.prompts import scalar_prompt  # noqa: E402
from mmreward.scoring.records import load_item  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from mmreward.synth.images import make_image_pairs  # noqa: E402


@torch.inference_mode()
def plain_loop(rm, records, root) -> list[list[float]]:
    model, processor, head = rm.module.backbone, rm.processor, rm.module.heads.heads[OVERALL]
    rewards = []
    for rec in records:
        item = load_item(rec, MediaOptions(media_root=root))
        prompts = [scalar_prompt(item, c) for c in item.candidates]
        batch = processor(text=[render(processor, p) for p in prompts],
                          images=[im for p in prompts for im in p.images], padding=True, return_tensors="pt")
        out = model(**batch, output_hidden_states=True)
        hidden = last_token_hidden(out.hidden_states[-1], batch["attention_mask"])
        rewards.append(head(hidden).tolist())
    return rewards


def timed(fn, repeats: int):
    fn()  # warm-up: first calls pay for allocator growth and lazy init
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


@dataclass
class Settings:
    pairs: int = 64
    batch_size: int = 16
    repeats: int = 3
    threads: int | None = field(default=None, metadata={"help": "torch threads (default: torch's)"})


def main() -> None:
    args = parse_script(Settings, __doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = tempfile.mkdtemp(prefix="mmreward-throughput-")
    records = make_image_pairs(root, args.pairs, seed=0, size=56)
    rm = mmreward.load("tiny", "scalar", device="cpu")

    t_loop, loop_rewards = timed(lambda: plain_loop(rm, records, root), args.repeats)
    t_score, outs = timed(lambda: rm.score(records, media_root=root, batch_size=args.batch_size), args.repeats)
    diff = max(abs(a - b) for o, r in zip(outs, loop_rewards) for a, b in zip(o["rewards"], r))

    print(f"pairs: {args.pairs}   torch threads: {torch.get_num_threads()}   best of {args.repeats}")
    print(f"plain per-pair loop : {t_loop:7.3f} s  {args.pairs / t_loop:8.1f} pairs/s")
    print(f"batched score (bs={args.batch_size}): {t_score:7.3f} s  {args.pairs / t_score:8.1f} pairs/s")
    print(f"speed-up: {t_loop / t_score:.2f}x   max |reward difference|: {diff:.2e}")


if __name__ == "__main__":
    main()
