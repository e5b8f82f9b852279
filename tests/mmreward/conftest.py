"""Fixtures shared by the mmreward tests."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def needs_service(code: str) -> bool:
    """Whether a snippet talks to a service: a URL in its code (not only in a comment)."""
    return any("http://" in line.split("#", 1)[0] for line in code.splitlines())


@pytest.fixture(scope="session")
def rl_snippets() -> list[dict]:
    """{"heading" (its ###), "code", "service"} of every python block in the README's
    "Use as a reward in RL" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Use as a reward in RL\n", 1)[1].split("\n## ", 1)[0]
    snippets, heading = [], ""
    for part in re.split(r"(?m)^(### .*)$", section):
        if part.startswith("### "):
            heading = part[4:].strip()
            continue
        snippets += [{"heading": heading, "code": code, "service": needs_service(code)}
                     for code in re.findall(r"```python\n(.*?)```", part, re.S)]
    assert snippets, "no python snippets in the README's RL section"
    return snippets


# ---------------------------------------------------------------- released image rewards (issue 24)
SHARED_IMAGES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "images"


@pytest.fixture(scope="session")
def hpsv3_dir(tmp_path_factory) -> Path:
    """A tiny HPSv3 release (Qwen2-VL base files + HPSv3.safetensors, mmreward.rewards.tiny_releases)."""
    from mmreward.rewards.tiny_releases import build_hpsv3

    return build_hpsv3(tmp_path_factory.mktemp("hpsv3") / "HPSv3")


@pytest.fixture(scope="session")
def imagereward_dir(tmp_path_factory) -> Path:
    """A tiny ImageReward release (ImageReward.pt, med_config.json, bert-base-uncased vocab.txt)."""
    from mmreward.rewards.tiny_releases import build_imagereward

    return build_imagereward(tmp_path_factory.mktemp("imagereward") / "ImageReward")


@pytest.fixture(scope="session")
def generated_images(tmp_path_factory) -> list[Path]:
    """The shared data's real photos (when present) and drawn images in several modes (RGB, RGBA,
    palette, grey, a wide JPEG)."""
    from mmreward.synth.images import image_modes

    return sorted(SHARED_IMAGES.glob("*.jpg")) + image_modes(tmp_path_factory.mktemp("modes"))
