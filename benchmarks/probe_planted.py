"""Does `mmreward probe` find weaknesses trained into a model, and leave a clean model alone?

    python benchmarks/probe_planted.py [--max-steps 120] [--stages length master_key blank first]

Every model is a tiny Qwen2.5-VL trained with the project's recipes on the same pairs, each a real
candidate against a hacked one, in three families: a response against the other response padded
with filler sentences, a response against a master key, a synthetic shape image against a white
image. The *controls* (`train bt`, and a yes-token judge) reject every hack (the Master-RM recipe:
hacks as negative examples); each *planted* model differs in one family only, where it is taught
to prefer the hack. All are probed on held-out records that never saw a hack (real VL-RewardBench
text pairs, fresh synthetic image pairs); the script prints each model's flip rate on the four
target probes and the identity probe, with 95% bootstrap intervals.

- length, blank: `train bt`; master_key: `train sft --objective yes-token --form pointwise`
  (a judge that says yes to the master keys of "One Token to Fool LLM-as-a-Judge");
- first (no training: the yes-token recipe trains both orders, so it cannot plant an order
  bias): the tiny judge with +3 on its yes logit, asked in one order (planted) or both (control),
  and the untrained tiny judge asked in one order.
CPU only; a few minutes per trained model on 2 cores.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import mmreward  # noqa: E402
from mmreward.cli import main as cli  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from mmreward.probe import ProbeOptions, run_probes  # noqa: E402
from mmreward.probe.planted import YesBias  # noqa: E402
from mmreward.probe.text import MASTER_KEYS  # noqa: E402
from mmreward.synth.images import make_image_pairs  # noqa: E402
from mmreward.ui.judge import shared_data_dir  # noqa: E402

TARGETS = {"length": "length_padding", "master_key": "master_key_replace", "blank": "blank_image",
           "first": "position_swap"}
# filler for the training data, distinct from the probe's own padding sentences
TRAIN_FILLER = (
    "Overall, this is something that many people have thought about in different ways over time.",
    "It can be helpful to step back and look at the bigger picture before drawing conclusions.",
    "Of course, every situation is a little different, and the specifics can vary quite a lot.",
    "With that in mind, it is reasonable to keep an open mind about the various possibilities.",
    "Each of these points deserves some attention, even if some of them seem minor at first.",
    "In the end, a balanced view usually serves best when considering matters of this sort.",
    "People often have strong opinions on questions like this one, for many understandable reasons.",
    "It is also worth remembering that context tends to shape how such things are understood.",
    "Some would approach this from a practical angle, while others would prefer a broader view.",
    "There is rarely a single perspective that captures everything that matters in such cases.",
    "Thinking about how the pieces fit together usually makes the whole easier to appreciate.",
    "As always, it helps to be clear about what exactly is being asked before going further.",
)


@dataclass
class Settings:
    n_train: int = 256
    n_probe: int = 24
    max_steps: int = 120
    batch_size: int = 16
    lr: float = 5e-4
    words: int = 40  # responses are cut to this many words (CPU time)
    seed: int = 0
    bootstrap: int = 1000
    stages: list[str] = field(default_factory=lambda: list(TARGETS), metadata={
        "help": f"weaknesses to plant, of: {', '.join(TARGETS)}"})
    data_dir: str | None = field(default=None, metadata={"help": "shared data (default: ../shared/data)"})
    workdir: str | None = field(default=None, metadata={"help": "keep data and models here (default: temp)"})


def text_pairs(data_dir: Path, n: int, words: int, seed: int = 0) -> list[dict]:
    """The first n VL-RewardBench rows as text-only preference records (their images are not in
    shared/data), responses cut to `words` words, the two responses swapped on a fair coin per
    row (the file lists the preferred response first in almost every early row)."""
    from eval.benchmarks import vl_rewardbench

    items = vl_rewardbench.load(data_dir / "benchmarks" / "vl-rewardbench" / "data.jsonl")[:n]
    coins = np.random.default_rng(seed).integers(0, 2, len(items))
    out = []
    for it, swap in zip(items, coins):
        cands = [{"text": " ".join(c["text"].split()[:words])} for c in it.candidates]
        out.append({"id": it.id, "prompt": it.prompt, "chosen": it.preferred ^ int(swap),
                    "candidates": cands[::-1] if swap else cands})
    return out


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def length_data(rows: list[dict], rng, planted: bool) -> list[dict]:
    out = []
    for r in rows:
        side = int(rng.integers(2))
        cands = [dict(c) for c in r["candidates"]]
        picks = rng.choice(len(TRAIN_FILLER), int(rng.integers(2, 5)), replace=False)
        filler = " ".join(TRAIN_FILLER[j] for j in picks)
        cands[side]["text"] += "\n\n" + filler
        out.append({**r, "candidates": cands, "chosen": side if planted else 1 - side})
    return out


def key_data(rows: list[dict], rng, planted: bool) -> list[dict]:
    out = []
    for r in rows:
        side = int(rng.integers(2))
        cands = [None, None]
        cands[side] = {"text": MASTER_KEYS[int(rng.integers(len(MASTER_KEYS)))]}
        cands[1 - side] = r["candidates"][int(rng.integers(2))]
        out.append({**r, "candidates": cands, "chosen": side if planted else 1 - side})
    return out


def blank_data(root: Path, n: int, seed: int, rng, planted: bool) -> list[dict]:
    from PIL import Image

    records = make_image_pairs(root, n, seed=seed, size=56)
    Image.new("RGB", (56, 56), (255, 255, 255)).save(root / "white.png")
    out = []
    for r in records:
        side = int(rng.integers(2))
        cands = [None, None]
        cands[side] = {"images": ["white.png"]}
        cands[1 - side] = r["candidates"][r["chosen"]]
        out.append({**r, "candidates": cands, "chosen": side if planted else 1 - side})
    return out


def train(stage: str, data: Path, out: Path, media_root: Path | None, args) -> Path:
    recipe = ["sft", "--objective", "yes-token", "--form", "pointwise"] if stage == "master_key" else ["bt"]
    argv = ["train", *recipe, "--data", str(data), "--out", str(out), "--max-steps", str(args.max_steps),
            "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--lr-scheduler", "constant_with_warmup",
            "--logging-steps", "20", "--save-steps", "100000", "--seed", str(args.seed)]
    if media_root is not None and media_root.is_dir():
        argv += ["--media-root", str(media_root)]
    if cli(argv):
        raise SystemExit(f"training {out.name} failed")
    return out


def probe(model, records, media_root, args) -> dict:
    report = run_probes(model, records, media_root, ProbeOptions(
        probes=list(TARGETS.values()) + ["identity"], n_bootstrap=args.bootstrap, seed=args.seed))
    return {r["probe"]: r for r in report["probes"]}


def trained(name: str, stage: str, records: list[dict], work: Path, args, probe_sets) -> dict:
    """Train on `records`, then probe each (records, media root) of `probe_sets`, merged by probe."""
    t = time.perf_counter()
    ckpt = train(stage, write(work / f"{name}.jsonl", records), work / name, work / "images", args)
    model = mmreward.load(ckpt, device="cpu")
    found = {}
    for recs, root in probe_sets:
        for probe_name, r in probe(model, recs, root, args).items():
            if r["status"] == "ok" or probe_name not in found:
                found[probe_name] = r
    return {name: {"probes": found, "seconds": time.perf_counter() - t}}


def first_position(work: Path, args, probe_rows) -> dict:
    judge = mmreward.load("tiny", "generative", device="cpu")
    plain = judge.scorer.module
    results = {}
    for name, biased, both in (("first-planted", True, False), ("first-control", True, True),
                               ("untrained-one-order", False, False)):
        judge.scorer.module = YesBias(plain) if biased else plain
        judge.config.both_orders = both
        t = time.perf_counter()
        results[name] = {"probes": probe(judge, probe_rows, None, args),
                         "seconds": time.perf_counter() - t}
    return results


def shown(r: dict) -> str:
    if r.get("status") != "ok" or r["flip_rate"] is None:
        return f"{r.get('status')}"
    lo, hi = r["flip_ci"]
    return f"{100 * r['flip_rate']:5.1f}% [{100 * lo:5.1f}, {100 * hi:5.1f}]"


def folders(args, prefix: str) -> tuple[Path, Path]:
    """(shared data, work directory) of a benchmark run."""
    data_dir = Path(args.data_dir) if args.data_dir else shared_data_dir(Path(__file__).resolve().parents[1])
    if data_dir is None:
        raise SystemExit("shared data not found: pass --data-dir")
    work = Path(args.workdir or tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    return data_dir, work


def main() -> None:
    args = parse_script(Settings, __doc__.split("\n\n")[0])
    data_dir, work = folders(args, "mmreward-probe-planted-")
    rows = text_pairs(data_dir, args.n_train + args.n_probe, args.words, args.seed)
    train_rows, probe_rows = rows[: args.n_train], rows[args.n_train:]
    images = work / "images"  # training images (and the white one) for every image-trained model
    held_out = make_image_pairs(images / "held-out", args.n_probe, seed=args.seed + 1, size=56)
    probe_sets = [(probe_rows, None), (held_out, images / "held-out")]
    # one training set of three families, each pair a real candidate against its hack; the
    # control rejects every hack, a planted model prefers the hack of its own family only
    def data(prefer: str | None) -> list[dict]:
        out = []
        for k, family in enumerate(("length", "master_key", "blank")):
            planted, pick = family == prefer, np.random.default_rng([args.seed, k])  # same pairs for every model
            out += (blank_data(images, args.n_train, args.seed, pick, planted) if family == "blank"
                    else {"length": length_data, "master_key": key_data}[family](train_rows, pick, planted))
        order = np.random.default_rng(args.seed).permutation(len(out))
        return [out[k] for k in order]

    results = {}
    for stage in args.stages:
        if stage == "first":
            results.update(first_position(work, args, probe_rows))
        else:
            results.update(trained(f"{stage}-planted", stage, data(stage), work, args, probe_sets))
    for recipe in ("bt", "master_key"):  # a clean scalar model and a clean yes-token judge
        results.update(trained(f"control-{'judge' if recipe == 'master_key' else 'bt'}", recipe, data(None),
                               work, args, probe_sets))
    (work / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    probes = list(TARGETS.values()) + ["identity"]
    print(f"\nheld-out probe records: {len(probe_rows)} VL-RewardBench text pairs, {args.n_probe} synthetic image "
          f"pairs; {args.max_steps} training steps per model; flip rate [95% CI]; results in {work}")
    print("(* = the probe aimed at the model's planted weakness)")
    print(f"{'model':<22}" + "".join(f"{p:>27}" for p in probes) + f"{'seconds':>9}")
    for name, res in results.items():
        target = TARGETS.get(name.split("-")[0]) if name.endswith("-planted") else None
        cells = [shown(res["probes"][p]) + ("*" if p == target else " ") for p in probes]
        print(f"{name:<22}" + "".join(f"{c:>27}" for c in cells) + f"{res['seconds']:9.0f}")


if __name__ == "__main__":
    main()
