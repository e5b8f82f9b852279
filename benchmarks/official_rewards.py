"""mmreward's HPSv3 and ImageReward against the official packages' own scoring, on tiny checkpoints.

    python benchmarks/official_rewards.py --hpsv3-python VENV1/bin/python --imagereward-python VENV2/bin/python

The official packages pin other libraries (hpsv3: transformers 4.45.2, timm >= 0.9; image-reward:
timm 0.6.13, fairscale), so each runs in its own venv (benchmarks/official/*_run.py). This script
builds tiny random-weight checkpoints in the release layouts (mmreward.rewards.tiny_releases),
draws images in several modes (mmreward.synth.images.image_modes) beside the shared data's real
photos, has the official code score them (one pair per call, and batched), scores them with
mmreward (one per batch, and batched), and
prints the largest differences: HPSv3 mu and sigma, ImageReward's normalised reward, and
whether `inference_rank`'s ranks equal `best_of_n(...).ranks`. Exit status 1 if a difference
passes --tolerance (1e-4) or a ranking differs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmreward.synth.images import image_modes  # noqa: E402

PROMPTS = [
    "a man ironing clothes on the back of a yellow taxi in new york",
    "a lake at dawn, mountains behind, mist on the water",
    "Ein rotes Fahrrad vor einer blauen Tür, café au lait, naïve style",
    "a very long prompt " + "with many repeated words " * 12 + "that goes past the thirty-five tokens",
]


def run_official(python: str, runner: str, spec: dict, work: Path) -> dict:
    spec_path, out_path = work / f"{runner}.spec.json", work / f"{runner}.out.json"
    spec_path.write_text(json.dumps(spec))
    done = subprocess.run([python, str(ROOT / "benchmarks" / "official" / f"{runner}.py"), str(spec_path),
                           str(out_path)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{runner} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return json.loads(out_path.read_text())


def records(pairs: list) -> list[dict]:
    return [{"id": i, "prompt": p, "candidates": [{"images": [str(image)]}]} for i, (p, image) in enumerate(pairs)]


def largest(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def check_hpsv3(python: str, images: list[Path], work: Path) -> dict:
    import mmreward
    from mmreward.rewards.tiny_releases import build_hpsv3

    model_dir = build_hpsv3(work / "hpsv3")
    pairs = [(PROMPTS[i % len(PROMPTS)], str(image)) for i, image in enumerate(images)]
    official = run_official(python, "hpsv3_run", {"model_dir": str(model_dir), "pairs": pairs}, work)
    rm = mmreward.load(f"hpsv3@{model_dir}", device="cpu")
    ours = {"single": rm.score(records(pairs), media_root="/", batch_size=1),
            "batched": rm.score(records(pairs), media_root="/", batch_size=len(pairs))}
    figures = {"pairs": len(pairs)}
    for theirs in ("single", "batched"):
        for mine, outs in ours.items():
            for k, dim in enumerate(("mu", "sigma")):
                figures[f"{dim} official-{theirs} vs mmreward-{mine}"] = largest(
                    [o["dimensions"][dim][0] for o in outs], [row[k] for row in official[theirs]])
    figures["mu spread (max - min)"] = max(r[0] for r in official["single"]) - min(r[0] for r in official["single"])
    return figures


def check_imagereward(python: str, images: list[Path], work: Path) -> tuple[dict, bool]:
    import mmreward
    from mmreward.integrations.best_of_n import best_of_n
    from mmreward.rewards.tiny_releases import IMAGEREWARD_TEXT, IMAGEREWARD_VISION, build_imagereward

    model_dir = build_imagereward(work / "imagereward")
    pairs = [(prompt, str(image)) for prompt in PROMPTS for image in images]
    groups = [(prompt, [str(image) for image in images]) for prompt in PROMPTS]
    official = run_official(python, "imagereward_run", {
        "model_dir": str(model_dir), "vision": IMAGEREWARD_VISION, "text_width": IMAGEREWARD_TEXT["hidden_size"],
        "pairs": pairs, "groups": groups}, work)
    rm = mmreward.load(f"imagereward@{model_dir}", device="cpu")
    figures = {"pairs": len(pairs), "checkpoint keys = module keys": official["strict"]}
    for mine, batch in (("single", 1), ("batched", len(pairs))):
        outs = rm.score(records(pairs), media_root="/", batch_size=batch)
        figures[f"reward official-score vs mmreward-{mine}"] = largest([o["rewards"][0] for o in outs],
                                                                        official["single"])
    same_ranks, rank_diff = True, 0.0
    for (prompt, paths), (ranks, rewards) in zip(groups, official["rank"]):
        ranking = best_of_n(rm, prompt, [{"images": [p]} for p in paths], media_root="/")
        same_ranks &= ranking.ranks == ranks
        rank_diff = max(rank_diff, largest(ranking.rewards, rewards))
    figures["inference_rank ranks == best_of_n ranks"] = same_ranks
    figures["inference_rank rewards vs best_of_n rewards"] = rank_diff
    figures["reward spread (max - min)"] = max(official["single"]) - min(official["single"])
    return figures, same_ranks and official["strict"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hpsv3-python", help="python of a venv with hpsv3 1.0.0 (skip HPSv3 if absent)")
    parser.add_argument("--imagereward-python", help="python of a venv with image-reward 1.5")
    parser.add_argument("--images", default=str(ROOT.parent / "shared" / "data" / "images"),
                        help="directory of real photos to score beside the rendered images")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images = sorted(Path(args.images).glob("*.jp*g")) + image_modes(work / "rendered")
        report = {"images": [p.name for p in images]}
        if args.hpsv3_python:
            report["hpsv3"] = check_hpsv3(args.hpsv3_python, images, work)
            ok &= all(v <= args.tolerance for k, v in report["hpsv3"].items() if " vs " in k)
        if args.imagereward_python:
            report["imagereward"], ranks_ok = check_imagereward(args.imagereward_python, images, work)
            ok &= ranks_ok and all(v <= args.tolerance for k, v in report["imagereward"].items()
                                   if " vs " in k and not isinstance(v, bool))
    print(json.dumps(report, indent=2))
    print("OK" if ok else f"FAILED (tolerance {args.tolerance})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
