"""Does `mmreward calibrate` lower the calibration error of an over-confident judge on held-out data?

    python benchmarks/calibration.py [--gain 6] [--train-steps 40] [--n-fit 200] [--n-test 200]

Builds a deliberately over-confident tiny P(yes) judge and saves it as a checkpoint: the offline
tiny Qwen2.5-VL, first given some skill (`mmreward train sft --objective yes-token` for
`--train-steps` steps on real VL-RewardBench responses against the master keys of "One Token to
Fool LLM-as-a-Judge", the response preferred; 0 keeps it untrained), then its final norm's gain
multiplied by `--gain` (every logit x gain: the same ranking, more confidence). Held-out pairs,
half "response vs master key" (the judge can tell) and half real VL-RewardBench human
preferences (text only, responses swapped on a fair coin; the tiny judge cannot tell), each from
rows the judge was not trained on. `mmreward calibrate` fits the temperature on `--n-fit` pairs
and writes a calibrated checkpoint; the script loads it and measures expected calibration error
(top-label, 10 bins over [0.5, 1]), NLL and accuracy on `--n-test` other pairs, against the
uncalibrated checkpoint. The judge asks each pair in one order (`--both-orders` for both). CPU only.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import mmreward  # noqa: E402
from mmreward.calibration import evaluate  # noqa: E402
from mmreward.cli import main as cli  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from probe_planted import folders, key_data, text_pairs, write  # noqa: E402  (benchmarks/probe_planted.py)


@dataclass
class Settings:
    gain: float = 6.0
    train_steps: int = 40
    n_train: int = 256
    n_fit: int = 200
    n_test: int = 200
    words: int = 40  # responses are cut to this many words (CPU time)
    both_orders: bool = False  # ask each pair in both orders (cancels the judge's constant yes-bias)
    batch_size: int = 16
    data_dir: str | None = field(default=None, metadata={"help": "shared data (default: ../shared/data)"})
    workdir: str | None = field(default=None, metadata={"help": "keep data and checkpoints here (default: temp)"})


def main() -> None:
    args = parse_script(Settings, __doc__.split("\n\n")[0])
    data_dir, work = folders(args, "mmreward-calibration-")
    rng = np.random.default_rng(0)
    rows = text_pairs(data_dir, args.n_train + args.n_fit + args.n_test, args.words)
    train_rows, rows = rows[: args.n_train], rows[args.n_train:]
    held = [r if k % 2 else key_data([r], rng, planted=False)[0] for k, r in enumerate(rows)]
    fit, test = write(work / "fit.jsonl", held[: args.n_fit]), write(work / "test.jsonl", held[args.n_fit:])

    model = "tiny"
    if args.train_steps:
        model = str(work / "trained")
        rc = cli(["train", "sft", "--objective", "yes-token", "--data",
                  str(write(work / "train.jsonl", key_data(train_rows, rng, planted=False))), "--out", model,
                  "--max-steps", str(args.train_steps), "--batch-size", "16", "--lr", "5e-4",
                  "--lr-scheduler", "constant_with_warmup", "--save-steps", "100000", "--logging-steps", "20"])
        if rc:
            raise SystemExit(f"training failed with exit code {rc}")
    judge = mmreward.load(model, "generative", device="cpu", both_orders=args.both_orders)
    with torch.no_grad():
        judge.module.backbone.model.language_model.norm.weight.mul_(args.gain)
    judge.save_pretrained(work / "over-confident")

    t = time.perf_counter()
    rc = cli(["calibrate", "--model", str(work / "over-confident"), "--data", str(fit), "--out", str(work / "report"),
              "--save-to", str(work / "calibrated"), "--batch-size", str(args.batch_size)])
    if rc:
        raise SystemExit(f"mmreward calibrate failed with exit code {rc}")
    seconds = time.perf_counter() - t
    test_rows = held[args.n_fit:]
    before = evaluate(mmreward.load(work / "over-confident", device="cpu"), test_rows, batch_size=args.batch_size)
    calibrated = mmreward.load(work / "calibrated", device="cpu")
    after = evaluate(calibrated, test_rows, batch_size=args.batch_size)

    print(f"\nover-confident tiny judge ({args.train_steps} yes-token steps, final-norm gain x{args.gain:g}, "
          f"both orders: {args.both_orders}); "
          f"temperature fitted on {args.n_fit} pairs: T = {calibrated.config.temperature:.3f} "
          f"({seconds:.0f} s for `mmreward calibrate`); loaded checkpoint info: calibrated = "
          f"{'calibrated' in calibrated.info}")
    print(f"{'held-out pairs':<16} {'n':>5} {'ECE':>8} {'NLL':>8} {'accuracy':>9}")
    for label, m in (("before", before), ("after", after)):
        print(f"{label:<16} {m['n']:5d} {m['ece']:8.4f} {m['nll']:8.4f} {m['accuracy']:9.3f}")
    print(f"reliability diagram (fit pairs): {work / 'report' / 'reliability.png'}")


if __name__ == "__main__":
    main()
