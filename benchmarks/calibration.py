"""Does `mmreward calibrate` lower the calibration error of an over-confident judge on held-out data?

    python benchmarks/calibration.py [--gain 6] [--n-fit 200] [--n-test 200] [--both-orders]

Builds a deliberately over-confident tiny P(yes) judge (the offline tiny Qwen2.5-VL with its
final norm's gain multiplied by `--gain`: every logit x gain, the same ranking, gain x the
confidence) and saves it as a checkpoint. Its held-out data are real human preferences: the
query and two responses of VL-RewardBench rows (text only: their images are not in
shared/data). `mmreward calibrate` fits the temperature on the first `--n-fit` pairs and writes a
calibrated checkpoint; the script then loads that checkpoint and measures expected calibration
error (top-label, 10 bins over [0.5, 1]), NLL and accuracy on the next `--n-test` pairs,
against the uncalibrated checkpoint on the same pairs. CPU only.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

import mmreward  # noqa: E402
from mmreward.calibration import evaluate  # noqa: E402
from mmreward.cli import main as cli  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from mmreward.ui.judge import shared_data_dir  # noqa: E402
from probe_planted import text_pairs  # noqa: E402  (benchmarks/probe_planted.py)


@dataclass
class Settings:
    gain: float = 6.0
    n_fit: int = 200
    n_test: int = 200
    words: int = 40  # responses are cut to this many words (CPU time)
    both_orders: bool = False  # ask each pair in both orders (cancels the judge's constant yes-bias)
    batch_size: int = 16
    data_dir: str | None = field(default=None, metadata={"help": "shared data (default: ../shared/data)"})
    workdir: str | None = field(default=None, metadata={"help": "keep data and checkpoints here (default: temp)"})


def main() -> None:
    args = parse_script(Settings, __doc__.split("\n\n")[0])
    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir(Path(__file__).resolve().parents[1])
    if data_dir is None:
        raise SystemExit("shared data not found: pass --data-dir")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="mmreward-calibration-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = text_pairs(data_dir, args.n_fit + args.n_test, args.words)
    fit, test = work / "fit.jsonl", work / "test.jsonl"
    for path, part in ((fit, rows[: args.n_fit]), (test, rows[args.n_fit:])):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")

    judge = mmreward.load("tiny", "generative", device="cpu", both_orders=args.both_orders)
    with torch.no_grad():
        judge.module.backbone.model.language_model.norm.weight.mul_(args.gain)
    judge.save_pretrained(work / "over-confident")

    t = time.perf_counter()
    rc = cli(["calibrate", "--model", str(work / "over-confident"), "--data", str(fit), "--out", str(work / "report"),
              "--save-to", str(work / "calibrated"), "--batch-size", str(args.batch_size)])
    if rc:
        raise SystemExit(f"mmreward calibrate failed with exit code {rc}")
    seconds = time.perf_counter() - t
    held = rows[args.n_fit:]
    before = evaluate(mmreward.load(work / "over-confident", device="cpu"), held, batch_size=args.batch_size)
    calibrated = mmreward.load(work / "calibrated", device="cpu")
    after = evaluate(calibrated, held, batch_size=args.batch_size)

    print(f"\nover-confident tiny judge (final-norm gain x{args.gain:g}, both orders: {args.both_orders}); "
          f"temperature fitted on {args.n_fit} VL-RewardBench pairs: T = {calibrated.config.temperature:.3f} "
          f"({seconds:.0f} s for `mmreward calibrate`); loaded checkpoint info: calibrated = "
          f"{'calibrated' in calibrated.info}")
    print(f"{'held-out pairs':<16} {'n':>5} {'ECE':>8} {'NLL':>8} {'accuracy':>9}")
    for label, m in (("before", before), ("after", after)):
        print(f"{label:<16} {m['n']:5d} {m['ece']:8.4f} {m['nll']:8.4f} {m['accuracy']:9.3f}")
    print(f"reliability diagram (fit pairs): {work / 'report' / 'reliability.png'}")


if __name__ == "__main__":
    main()
