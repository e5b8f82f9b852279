"""The console script as users run it: `mmreward ...` and `python -m mmreward.cli ...`."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mmreward.cli import main


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmreward.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("args, option", [(("train", "bt"), "--data"),
                                          (("train", "sft", "--objective", "traces"), "--traces"),
                                          (("train", "grpo"), "--group-size")])
@pytest.mark.slow
def test_stage_options_reach_the_parser_under_python_dash_m(args, option):
    # `accelerate launch -m mmreward.cli train ...` runs cli.py as __main__: the stage's
    # options are registered from the arguments, which must reach the command modules
    done = run_module(*args, "--help")
    assert done.returncode == 0, done.stderr
    assert option in done.stdout


def test_unknown_command_and_bare_call(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out
    assert main(["nosuch"]) == 2
    assert "unknown command 'nosuch'" in capsys.readouterr().err


def test_a_missing_checkpoint_directory_is_named_not_sent_to_the_hub(tmp_path, capsys):
    from mmreward.models.backbone import ModelNotFoundError, resolve_name

    for name in ("./runs/bt", str(tmp_path / "nothing"), "runs/bt/checkpoint-40"):
        with pytest.raises(ModelNotFoundError, match="no such checkpoint directory"):
            resolve_name(name)
    assert resolve_name("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"  # a hub id
    assert resolve_name(str(tmp_path)) == str(tmp_path)

    records = tmp_path / "in.jsonl"
    records.write_text('{"id": "a", "prompt": "p", "candidates": [{"text": "x"}]}\n')
    rc = main(["score", "--model", str(tmp_path / "nothing"), "--input", str(records),
               "--output", str(tmp_path / "out.jsonl")])
    assert rc == 2
    assert "no such checkpoint directory" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_score_checks_its_input_before_loading_a_model(tmp_path, capsys):
    rc = main(["score", "--model", str(tmp_path / "never-loaded"), "--input", str(tmp_path / "none.jsonl"),
               "--output", str(tmp_path / "out.jsonl")])
    assert rc == 2
    assert "input" in capsys.readouterr().err
