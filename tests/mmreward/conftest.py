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
