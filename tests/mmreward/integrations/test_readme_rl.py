"""The README's "Use as a reward in RL" snippets that need no service run as written (the TRL one
is the GRPO acceptance test, test_trl_grpo.py; the ones with a URL run in test_serve_service.py)."""
from __future__ import annotations

import pytest

LOCAL = ("verl", "Image and video generation (Flow-GRPO, DanceGRPO)", "Best-of-N")


@pytest.mark.slow
def test_in_process_snippets_run(rl_snippets, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ran = []
    for snippet in rl_snippets:
        if snippet["service"] or snippet["heading"].startswith("TRL"):
            continue
        exec(compile(snippet["code"], f"README.md ({snippet['heading']})", "exec"), {"__name__": "readme"})
        ran.append(snippet["heading"])
    assert sorted(ran) == sorted(LOCAL)
