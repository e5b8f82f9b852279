"""Peak memory and time of `mmreward score` on inputs that used to cost far more than their answer.

    python benchmarks/input_bounds.py --case images   # 8 records of two 64 MP PNGs (issue 26 item 8)
    python benchmarks/input_bounds.py --case prompt   # one 30 MB prompt with --max-prompt-tokens 100 (item 9)
    python benchmarks/input_bounds.py --case prompt --code /work/main   # the same on another checkout

Each case writes its input into a temporary directory, runs `python -m mmreward.cli score` on it
in a child process (the tiny model) and prints the child's peak resident memory (ru_maxrss), its
wall time and the first output line.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Config:
    case: Literal["images", "prompt"] = field(default="images", metadata={"help": "which input"})
    code: str = field(default=str(ROOT), metadata={"help": "the checkout whose mmreward runs"})
    records: int = field(default=8, metadata={"help": "images: records (two images each)"})
    megapixels: int = field(default=64, metadata={"help": "images: pixels per image, in millions"})
    prompt_mb: int = field(default=30, metadata={"help": "prompt: characters of the prompt, in millions"})


def write_images(root: Path, cfg: Config) -> list[str]:
    from PIL import Image

    side = int((cfg.megapixels * 1_000_000) ** 0.5)
    for name, colour in (("a.png", (200, 30, 40)), ("b.png", (20, 130, 240))):
        Image.new("RGB", (side, side), colour).save(root / name, compress_level=1)
    records = [{"id": f"r{i}", "prompt": "which is better?", "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]}
               for i in range(cfg.records)]
    (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"input: {cfg.records} records of two {side}x{side} PNGs ({side * side / 1e6:.0f} MP)")
    return ["--media-root", str(root)]


def write_prompt(root: Path, cfg: Config) -> list[str]:
    words = ("a red fox jumps over the lazy dog " * (cfg.prompt_mb * 1_000_000 // 34 + 1))[:cfg.prompt_mb * 1_000_000]
    records = [{"id": "long", "prompt": words, "candidates": [{"text": "yes"}, {"text": "no"}]},
               {"id": "short", "prompt": "a red fox", "candidates": [{"text": "yes"}, {"text": "no"}]}]
    (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"input: a prompt of {len(words) / 1e6:.0f} M characters and a short one, --max-prompt-tokens 100")
    return ["--max-prompt-tokens", "100"]


def main() -> None:
    from mmreward.commands.parsing import parse_script

    cfg = parse_script(Config, __doc__.split("\n\n")[0])
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        extra = (write_images if cfg.case == "images" else write_prompt)(root, cfg)
        cmd = [sys.executable, "-m", "mmreward.cli", "score", "--input", str(root / "in.jsonl"),
               "--output", str(root / "out.jsonl"), "--no-progress", *extra]
        env = {**os.environ, "PYTHONPATH": cfg.code, "HF_HUB_OFFLINE": "1"}
        start = time.monotonic()
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=root)  # not this checkout
        took = time.monotonic() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(f"code: {cfg.code}; exit {run.returncode}; {took:.1f} s; peak RSS {peak:.2f} GiB")
        if run.returncode:
            print(run.stderr[-2000:])
        for line in (root / "out.jsonl").read_text().splitlines() if (root / "out.jsonl").exists() else []:
            print("  " + line[:200])


if __name__ == "__main__":
    main()
