"""The OCR text-rendering reward on its real weights (PP-OCRv4 from the rapidocr-onnxruntime wheel).

    python benchmarks/ocr_reward.py [--targets 50] [--seed 0] [--threads N] [--batch-size 16] [--json out.json]

For each target text (2-4 words drawn from a fixed vocabulary, fixed seed) five
512x512 images are rendered with PIL, all in the same font, size, colours,
background and position: the correct text and four corruptions of it:
  misspelt  one word with one edit (two letters swapped, one replaced or one dropped);
  missing   one word left out;
  blur      the correct text under a heavy Gaussian blur (radius 0.3 x the font size);
  wrong     another target's text.
Fonts: whatever of DejaVu Sans / Serif / Sans Mono and Liberation Sans / Serif is
installed, plus PIL's bundled scalable font; sizes 28-64 px; backgrounds: flat light,
flat dark (light text), a vertical gradient, and pale noise.

Prints, per corruption, the pairwise accuracy (correct rendering strictly above the
corruption; ties counted as misses and shown), the mean reward of each kind, and the
speed: images/s of `mmreward.load("ocr").score` on the PNG files (decode included),
of the batched OCR alone, and of RapidOCR's own per-image call on the same images,
with how often the two readings agree once normalised.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageFont  # noqa: E402

import mmreward  # noqa: E402
from mmreward.rewards.ocr import normalize  # noqa: E402

WORDS = ("open late coffee fresh bread grand opening sale today only welcome home garden market "
         "station north exit city library summer festival night music free parking happy birthday "
         "fire exit keep calm hotel ocean view best pizza in town closed for repairs private road "
         "danger high voltage gate seven blue river bakery tea room book shop west park zone").split()
WORDS = tuple(sorted(set(WORDS)))
FONT_FILES = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
              "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf"]
KINDS = ("correct", "misspelt", "missing", "blur", "wrong")
SIZE = 512


def fonts() -> list[tuple[str, object]]:
    """(name, loader(size)) for each available font; PIL's bundled one is always there."""
    found = [(Path(f).stem, (lambda s, f=f: ImageFont.truetype(f, s))) for f in FONT_FILES if Path(f).is_file()]
    return found + [("PIL-default", lambda s: ImageFont.load_default(size=s))]


def targets(rng: random.Random, n: int) -> list[str]:
    out = set()
    while len(out) < n:
        words = rng.sample(WORDS, rng.randint(2, 4))
        text = " ".join(words)
        out.add(text.upper() if rng.random() < 0.5 else text.title())
    return sorted(out)


def misspell(text: str, rng: random.Random) -> str:
    words = text.split()
    k = rng.choice([i for i, w in enumerate(words) if len(w) >= 3])
    w = list(words[k])
    i = rng.randrange(len(w) - 1)
    op = rng.choice(("swap", "replace", "drop"))
    if op == "swap" and w[i] != w[i + 1]:
        w[i], w[i + 1] = w[i + 1], w[i]
    elif op == "drop":
        del w[i]
    else:
        letters = [c for c in "abcdefghijklmnopqrstuvwxyz" if c != w[i].lower()]
        c = rng.choice(letters)
        w[i] = c.upper() if w[i].isupper() else c
    words[k] = "".join(w)
    return " ".join(words)


def drop_word(text: str, rng: random.Random) -> str:
    words = text.split()
    del words[rng.randrange(len(words))]
    return " ".join(words)


def background(kind: str, rng: np.random.Generator) -> tuple[Image.Image, tuple]:
    if kind == "dark":
        return Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(10, 60, 3))), (240, 240, 230)
    if kind == "gradient":
        top, bottom = rng.integers(170, 255, 3), rng.integers(120, 220, 3)
        t = np.linspace(0, 1, SIZE)[:, None, None]
        arr = (top * (1 - t) + bottom * t).repeat(SIZE, axis=1).astype(np.uint8)
        return Image.fromarray(arr), (20, 20, 40)
    if kind == "noise":
        arr = rng.normal(215, 18, (SIZE, SIZE, 3)).clip(0, 255).astype(np.uint8)
        return Image.fromarray(arr).filter(ImageFilter.GaussianBlur(1)), (30, 20, 20)
    return Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(200, 256, 3))), (15, 15, 15)


def lay_out(text: str, font) -> list[str]:
    """One line, or two when one would not fit in the canvas."""
    if font.getlength(text) <= SIZE - 40 or " " not in text:
        return [text]
    words = text.split()
    half = len(words) // 2
    return [" ".join(words[:half]), " ".join(words[half:])]


def render(text: str, style: dict, blur: float = 0.0) -> Image.Image:
    im = style["background"].copy()
    draw, font = ImageDraw.Draw(im), style["font"]
    y = style["y"]
    for line in lay_out(text, font):
        draw.text((style["x"], y), line, fill=style["ink"], font=font)
        y += int(style["size"] * 1.3)
    return im.filter(ImageFilter.GaussianBlur(blur)) if blur else im


def make_set(n_targets: int, seed: int, out: Path) -> tuple[list[dict], list[Image.Image], list[str]]:
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    texts, font_list = targets(rng, n_targets), fonts()
    records, images, used = [], [], set()
    for t, text in enumerate(texts):
        name, load_font = font_list[t % len(font_list)]
        size = rng.choice((28, 36, 44, 52, 64))
        bg, ink = background(("flat", "dark", "gradient", "noise")[t % 4], nrng)
        style = {"font": load_font(size), "size": size, "background": bg, "ink": ink,
                 "x": rng.randint(10, 40), "y": rng.randint(40, SIZE - 3 * size)}
        used.add(name)
        wrong = texts[(t + 1 + rng.randrange(len(texts) - 1)) % len(texts)]
        versions = {"correct": render(text, style), "misspelt": render(misspell(text, rng), style),
                    "missing": render(drop_word(text, rng), style), "blur": render(text, style, blur=0.3 * size),
                    "wrong": render(wrong, style)}
        cands = []
        for kind in KINDS:
            path = f"t{t:03d}_{kind}.png"
            versions[kind].save(out / path)
            images.append(versions[kind])
            cands.append({"images": [path]})
        records.append({"id": t, "prompt": f'a storefront sign that says "{text}"', "candidates": cands})
    return records, images, sorted(used)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50, help="target texts (5 images each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: onnxruntime's)")
    ap.add_argument("--batch-size", type=int, default=16, help="images per OCR call")
    ap.add_argument("--rec-batch-size", type=int, default=1, help="text crops per recogniser forward pass")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> None:
    records, images, used_fonts = make_set(args.targets, args.seed, work)
    rm = mmreward.load("ocr", threads=args.threads, rec_batch_size=args.rec_batch_size)

    t0 = time.perf_counter()
    outputs = rm.score(records, media_root=work, batch_size=args.batch_size)
    t_score = time.perf_counter() - t0
    rewards = np.array([o["rewards"] for o in outputs])  # [targets, kinds]
    n = len(images)
    figures = {"images": n, "targets": len(records), "fonts": used_fonts, "seed": args.seed,
               "mean_reward": {k: float(rewards[:, i].mean()) for i, k in enumerate(KINDS)},
               "pairwise_accuracy": {}, "ties": {},
               "correct_read_exactly": float((rewards[:, 0] == 1.0).mean())}
    for i, k in enumerate(KINDS[1:], start=1):
        figures["pairwise_accuracy"][k] = float((rewards[:, 0] > rewards[:, i]).mean())
        figures["ties"][k] = float((rewards[:, 0] == rewards[:, i]).mean())
    wins = np.concatenate([rewards[:, 0] > rewards[:, i] for i in range(1, len(KINDS))])
    figures["pairwise_accuracy"]["all"] = float(wins.mean())
    print(f"{n} images ({len(records)} targets x {len(KINDS)}), seed {args.seed}, fonts: {', '.join(used_fonts)}")
    print(f"{'kind':<10} {'mean reward':>12} {'acc (correct > kind)':>21} {'ties':>6}")
    for k in KINDS:
        acc, tie = figures["pairwise_accuracy"].get(k), figures["ties"].get(k)
        print(f"{k:<10} {figures['mean_reward'][k]:>12.3f} {'' if acc is None else f'{acc:.3f}':>21} "
              f"{'' if tie is None else f'{tie:.3f}':>6}")
    print(f"pairwise accuracy over all {len(wins)} pairs: {figures['pairwise_accuracy']['all']:.3f}; "
          f"correct renderings read exactly: {figures['correct_read_exactly']:.3f}")
    print(f"images/s: score() {n / t_score:.2f} (PNG decode included, {args.batch_size} images per OCR call, "
          f"{args.rec_batch_size} crops per recogniser pass, {args.threads or 'default'} onnxruntime threads)",
          flush=True)

    # batched and per-image reading timed chunk by chunk, interleaved, so that a change in the
    # machine's load during the run weighs on both alike
    batched, single, t_batched, t_single = [], [], 0.0, 0.0
    for start in range(0, n, args.batch_size):
        chunk = images[start:start + args.batch_size]
        t0 = time.perf_counter()
        batched.extend(rm.engine.read(chunk))
        t1 = time.perf_counter()
        single.extend(rm.engine.read_single(im) for im in chunk)
        t_batched, t_single = t_batched + t1 - t0, t_single + time.perf_counter() - t1
    agree = float(np.mean([normalize("".join(t for t, _ in a)) == normalize("".join(t for t, _ in b))
                           for a, b in zip(batched, single)]))
    figures["images_per_s"] = {"score": n / t_score, "ocr_batched": n / t_batched, "ocr_per_image": n / t_single}
    figures["batched_equals_per_image"] = agree
    figures["load_average_1min_after"] = os.getloadavg()[0]
    print(f"images/s: OCR batched {n / t_batched:.2f}; RapidOCR per image {n / t_single:.2f}; batched and "
          f"per-image readings agree on {agree:.3f} of images (normalised); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
