"""Every user-facing path on a CUDA device, through the CLI, on the offline tiny model.

The test suite runs on CPU in float32; users run on GPUs in bfloat16. This script runs the
same commands a user would (`mmreward synth/score/train/agent`) with `--device cuda` and the
default dtype (bf16 on GPU), and checks what can be checked on random weights:

  * scoring: CUDA bf16 rewards against CPU fp32 rewards of the same checkpoint (Pearson r,
    max |diff|, agreement of the preferred candidate) for scalar and generative mode, images
    and videos; items/s on each device, counting the whole command (start-up and model load);
  * training: `train bt`, `train sft --objective traces`, `train rft`, `train grpo` each take a
    few steps on CUDA, write a checkpoint, and the checkpoint scores / rolls out again;
  * the video agent: `mmreward agent --device cuda --json` on a synthetic pair.

It prints one line per step and exits non-zero when a step fails. Not a test: needs a GPU.

    python benchmarks/cuda_paths.py --work /tmp/cuda_paths
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def cli(*args: str) -> tuple[float, str]:
    """Run `mmreward ARGS` in a fresh process (as a user would); return (seconds, stdout)."""
    t = time.time()
    done = subprocess.run([sys.executable, "-m", "mmreward.cli", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"mmreward {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return time.time() - t, done.stdout


def rewards(path: Path) -> tuple[np.ndarray, list[str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    errors = [r["error"] for r in rows if "error" in r]
    return np.array([r["rewards"] for r in rows if "rewards" in r], dtype=float), errors


def compare_scoring(work: Path, data: Path, name: str, mode: str, device: str, extra=()) -> dict:
    """Score one file on CPU (fp32) and on `device` (default dtype); compare the rewards."""
    out = {}
    for dev in ("cpu", device):
        dest = work / f"{name}_{mode}_{dev.replace(':', '')}.jsonl"
        dest.unlink(missing_ok=True)
        secs, _ = cli("score", "--model", "tiny", "--mode", mode, "--input", str(data / "pairs.jsonl"),
                      "--output", str(dest), "--media-root", str(data), "--device", dev, "--no-progress",
                      *extra)
        r, errors = rewards(dest)
        if errors:
            raise RuntimeError(f"{name} {mode} on {dev}: {len(errors)} error lines, first: {errors[0]}")
        out[dev] = (r, secs)
    (a, ta), (b, tb) = out["cpu"], out[device]
    n = len(a)
    return {"items": n, "pearson": round(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]), 4),
            "max_abs_diff": round(float(np.abs(a - b).max()), 4),
            "same_preferred": round(float((a.argmax(1) == b.argmax(1)).mean()), 3),
            "cpu_items_per_s": round(n / ta, 2), f"{device}_items_per_s": round(n / tb, 2)}


@dataclass
class Settings:
    work: str = "/tmp/mmreward_cuda_paths"
    device: str = "cuda"
    n: int = field(default=64, metadata={"help": "image pairs scored on each device"})
    only: list[str] = field(default_factory=list, metadata={
        "help": "run only the steps whose names start with these"})


def main() -> int:
    from mmreward.commands.parsing import parse_script

    args = parse_script(Settings, __doc__.split("\n\n")[0])
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("cuda_paths: no CUDA device here; this script checks the GPU paths (--device)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    dev = args.device
    failures = 0

    def step(name, fn):
        nonlocal failures
        if args.only and not any(name.startswith(o) for o in args.only):
            return
        t = time.time()
        try:
            print(f"[{name}] {json.dumps(fn())}  ({time.time() - t:.0f} s)", flush=True)
        except Exception as e:  # report and go on: one broken path should not hide the others
            failures += 1
            print(f"[{name}] FAILED: {e}", flush=True)

    images, videos, agent = work / "images", work / "videos", work / "agent"
    synth = {images: ("images", "--n", str(args.n)), videos: ("videos", "--n", "16"),
             agent: ("agent", "--n", "160")}
    # data already in --work is reused (made on a machine with PyAV, which writes the mp4s)
    step("synth", lambda: {d.name: round(cli("synth", task, "--out", str(d), *n)[0], 1)
                           for d, (task, *n) in synth.items() if not d.exists()})
    step("score images scalar", lambda: compare_scoring(work, images, "images", "scalar", dev))
    step("score images generative", lambda: compare_scoring(work, images, "images", "generative", dev))
    step("score videos scalar", lambda: compare_scoring(work, videos, "videos", "scalar", dev))
    step("score videos generative", lambda: compare_scoring(work, videos, "videos", "generative", dev))
    step("score generative rationale-first", lambda: compare_scoring(
        work, images, "rationale", "generative", dev, ("--rationale-tokens", "16")))

    def train_bt():
        secs, _ = cli("train", "bt", "--data", str(images / "pairs.jsonl"), "--media-root", str(images),
                      "--out", str(work / "bt"), "--max-steps", "8", "--batch-size", "4", "--save-steps", "4")
        dest = work / "bt_scores.jsonl"
        dest.unlink(missing_ok=True)
        cli("score", "--model", str(work / "bt"), "--input", str(images / "pairs.jsonl"), "--output", str(dest),
            "--media-root", str(images), "--device", dev, "--no-progress")
        r, errors = rewards(dest)
        return {"train_s": round(secs, 1), "scored": len(r), "errors": len(errors),
                "accuracy_after_8_steps": round(float((r.argmax(1) == 0).mean()), 3)}

    def train_agent(stage, model, *extra):
        secs, out = cli("train", stage, *extra, "--model", model, "--out", str(work / stage),
                        "--media-root", str(agent))
        last = [line for line in out.splitlines() if line.strip()][-3:]
        return {"train_s": round(secs, 1), "files": sorted(x.name for x in (work / stage).iterdir())[:8],
                "last_lines": last}

    step("train bt", train_bt)
    # The cold start of benchmarks/agent_learning.py (160 traces, 3 epochs), so that RFT keeps
    # something and GRPO samples valid answers.
    sft = str(work / "sft")
    step("train sft traces", lambda: train_agent("sft", "tiny", "--objective", "traces", "--traces",
                                                 str(agent / "traces.jsonl"), "--epochs", "3",
                                                 "--batch-size", "8", "--lr", "1e-2"))
    def rft_items() -> str:  # 32 items x k=4 keep the step to a minute or two
        dest = work / "rft_items.jsonl"
        dest.write_text("".join(line + "\n" for line in (agent / "items.jsonl").read_text().splitlines()[:32]))
        return str(dest)

    step("train rft", lambda: train_agent("rft", sft, "--items", rft_items(), "--k", "4",
                                          "--temperature", "0.7", "--top-p", "0.95", "--max-steps", "4"))
    step("train grpo", lambda: train_agent("grpo", sft, "--items", str(agent / "items.jsonl"), "--steps", "4",
                                           "--items-per-step", "4", "--group-size", "8", "--beta", "0.04",
                                           "--lr", "5e-4", "--temperature", "0.7", "--top-p", "0.95"))

    def agent_run():
        item = json.loads((agent / "items.jsonl").read_text().splitlines()[0])
        secs, out = cli("agent", "--model", sft if Path(sft).exists() else "tiny",
                        "--prompt", item["prompt"], "--videos", *item["videos"], "--media-root", str(agent),
                        "--device", dev, "--json", "--temperature", "0.7", "--seed", "1")
        trace = json.loads(out)
        return {"s": round(secs, 1), "turns": len(trace["turns"]), "selected_frames": trace["selected_frames"],
                "judgments": trace["judgments"], "format_valid": trace["format_valid"]}

    step("agent", agent_run)
    print("all paths ran" if not failures else f"{failures} step(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
