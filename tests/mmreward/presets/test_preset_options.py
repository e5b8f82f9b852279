"""Preset options that cannot work are refused when the model loads, before any record is scored."""
import re

import pytest

import mmreward
from mmreward.errors import ConfigError


@pytest.mark.parametrize("bad, words", [(-5, "--max-new-tokens must be at least 1"), (0, "--max-new-tokens must be at least 1"),
                                        (2.5, "option max_new_tokens must be int"), ("8", "option max_new_tokens must be int"),
                                        (True, "option max_new_tokens must be int")])
def test_a_generation_limit_that_cannot_work_is_refused_before_loading(tmp_path, bad, words):
    # tmp_path holds no checkpoint: refused before anything is read
    with pytest.raises(ConfigError, match=re.escape(f"UnifiedReward: {words}, got {bad!r}")):
        mmreward.load(tmp_path, preset="unifiedreward", max_new_tokens=bad)


@pytest.mark.parametrize("value", ["-5", "0"])
def test_the_score_command_refuses_it_in_one_line_and_scores_nothing(tmp_path, capsys, value):
    from mmreward.cli import main

    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "candidates": [{"images": ["a.png"]}, {"images": ["b.png"]}]}\n')
    out = tmp_path / "out.jsonl"
    argv = ["score", "--model", "tiny", "--preset", "unifiedreward", "--max-new-tokens", value,
            "--input", str(inp), "--output", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mmreward score: UnifiedReward: --max-new-tokens must be at least 1, got {value}"], err
    assert not out.exists()  # nothing scored: a fixed rerun scores every line
