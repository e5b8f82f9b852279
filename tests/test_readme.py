"""Every snippet of README.md runs as written.

Convention (README.md): every fenced `python` and `bash` block is run, each in a fresh process,
in a working directory holding the files the snippets name (the `workdir` fixture below: the quick
start's `demo/`, `data/` and `in.jsonl`, `records.jsonl`, two clips in `clips/`, a VL-RewardBench
file with predictions, a VideoGen-RewardBench CSV with its `videos/`, OCR records in `gen.jsonl`
over `images/`), with the offline tiny models. A block that must not run here is preceded by
    <!-- snippet: skip: WHY -->
and one that another test runs (against a real service, or as a training run) by
    <!-- snippet: run by tests/PATH.py -->
`json` blocks must be scoring records and `yaml` blocks must parse. A block that fails names its
line in README.md.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = re.compile(r"<!-- snippet: (?:skip: (?P<why>.+?)|run by (?P<by>\S+).*?) -->")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


@dataclass
class Snippet:
    line: int  # of the opening fence in README.md
    language: str
    code: str
    marker: tuple[str, str] | None  # ("skip", why) or ("run by", path)

    def __str__(self) -> str:
        return f"README.md line {self.line} ({self.language})"


def snippets() -> list[Snippet]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        kind = None if marker is None else ("skip", marker["why"]) if marker["why"] else ("run by", marker["by"])
        found.append(Snippet(text.count("\n", 0, match.start()) + 1, match[1], match[2], kind))
    return found


SNIPPETS = snippets()
RUN = [s for s in SNIPPETS if s.language in ("python", "bash") and s.marker is None]


def test_every_code_block_runs_here_or_says_why_not():
    assert len(RUN) >= 8, [str(s) for s in RUN]
    for snippet in SNIPPETS:
        if snippet.marker is None:
            continue
        kind, value = snippet.marker
        assert snippet.language in ("python", "bash"), f"{snippet}: a marker on a {snippet.language} block"
        if kind == "run by":
            runner = ROOT / value
            assert runner.is_file() and "README" in runner.read_text(), f"{snippet}: {value} runs no README snippet"
        else:
            assert len(value.split()) >= 3, f"{snippet}: say why it does not run"


def test_json_blocks_are_scoring_records_and_yaml_blocks_parse():
    from mmreward.scoring.records import check_record

    checked = 0
    for snippet in SNIPPETS:
        if snippet.language == "json":
            for line in snippet.code.splitlines():
                check_record(json.loads(line))
                checked += 1
        elif snippet.language == "yaml":
            assert isinstance(yaml.safe_load(snippet.code), dict), snippet
            checked += 1
    assert checked >= 4


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The files the README's snippets read, made small."""
    from PIL import Image, ImageDraw

    from mmreward.synth.images import make_image_pairs
    from mmreward.synth.videos import make_video_pairs

    root = tmp_path_factory.mktemp("readme")
    pairs = make_image_pairs(root / "demo", 4, seed=0)  # what the quick start writes (with --n 32)
    _jsonl(root / "demo" / "pairs.jsonl", pairs)
    shutil.copytree(root / "demo", root / "data")
    _jsonl(root / "in.jsonl", pairs)
    _jsonl(root / "records.jsonl", pairs[:1])
    clips = make_video_pairs(root / "vid", 2, seed=0)
    (root / "clips").mkdir()
    for name, rel in zip(("a.mp4", "b.mp4"), (c["videos"][0] for c in clips[0]["candidates"])):
        shutil.copy(root / "vid" / rel, root / "clips" / name)
    shutil.copytree(root / "vid" / "videos", root / "videos")
    with open(root / "test.csv", "w", newline="") as f:  # VideoGen-RewardBench's columns
        writer = csv.writer(f)
        writer.writerow(["path_A", "path_B", "prompt", "VQ", "MQ", "TA", "Overall"])
        for clip, label in zip(clips, ("A", "B")):
            a, b = (c["videos"][0].removeprefix("videos/") for c in clip["candidates"])
            writer.writerow([a, b, clip["prompt"], label, "same", label, label])
    _jsonl(root / "data.jsonl", [{"id": f"RLAIF-V-{i}", "image_path": p["candidates"][0]["images"][0],
                                  "query": p["prompt"], "response": ["yes", "no"], "human_ranking": [i % 2, 1 - i % 2]}
                                 for i, p in enumerate(pairs)])
    _jsonl(root / "preds.jsonl", [{"row": i, "rewards": [0.2 * i, 0.5]} for i in range(len(pairs))])
    (root / "images").mkdir()
    gen = []
    for i, text in enumerate(("OPEN", "SALE")):
        for j, shown in enumerate((text, "XQZW")):
            image = Image.new("RGB", (320, 96), "white")
            ImageDraw.Draw(image).text((20, 20), shown, fill="black", font_size=48)
            image.save(root / "images" / f"{i}_{j}.png")
        gen.append({"id": f"g{i}", "prompt": f'a sign that says "{text}"',
                    "candidates": [{"images": [f"{i}_0.png"]}, {"images": [f"{i}_1.png"]}]})
    _jsonl(root / "gen.jsonl", gen)
    return root


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.slow
@pytest.mark.parametrize("snippet", RUN, ids=[f"line{s.line}-{s.language}" for s in RUN])
def test_snippet_runs_as_written(snippet, workdir, tmp_path):
    cwd = tmp_path / "cwd"
    shutil.copytree(workdir, cwd)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "MUJOCO_GL": "egl",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [sys.executable, "-c", snippet.code] if snippet.language == "python" else ["bash", "-e", "-c", snippet.code]
    run = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"{snippet} failed:\n{snippet.code}\n--- stderr:\n{run.stderr[-4000:]}"
    assert "Traceback" not in run.stderr, f"{snippet}:\n{run.stderr[-4000:]}"
