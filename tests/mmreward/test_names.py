"""A model name that can be no model here is one line, at once, naming what it is not and the closest names."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmreward import names
from mmreward.errors import ModelNotFoundError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """A local hub cache holding one repo, laid out as huggingface_hub writes it."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--Org--My-VLM" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--Org--My-VLM" / "refs").mkdir()
    (cache / "models--Org--My-VLM" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(names, "_hub_cache", lambda: cache)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


@pytest.mark.parametrize("given, words", [
    ("tinyy", "model 'tinyy' is not a preset, a registered name, a local directory or a hub id (hub ids are "
              "ORG/NAME); closest: tiny"),
    ("pickscor", "closest: pickscore"),
    ("Qwen/Qwen2.5-VL-7B-Instruc", "model 'Qwen/Qwen2.5-VL-7B-Instruc' is not a preset, a registered name, a local "
                                   "directory or a hub id in the local cache, and the hub may not be asked "
                                   "(HF_HUB_OFFLINE=1); closest: Qwen/Qwen2.5-VL-7B-Instruct"),
    ("Org/My-VLN", "closest: Org/My-VLM"),  # a cached hub id is a known name
    ("CodeGoat24/UnifiedReward-qwen-7b", "is not in the local hub cache and the hub may not be asked"),
])
def test_a_name_that_can_be_no_model_says_what_it_is_not_and_the_closest_names(hub_cache, given, words):
    with pytest.raises(ModelNotFoundError) as err:
        names.check_model_name(given)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_names_that_can_be_a_model_pass(hub_cache, tmp_path, monkeypatch):
    (tmp_path / "runs" / "bt").mkdir(parents=True)
    for name in ("tiny", "pickscore", "combo:pickscore=1", "hpsv2@x.pt", "http://127.0.0.1:8000", "Org/My-VLM",
                 str(tmp_path / "runs" / "bt")):
        names.check_model_name(name)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    names.check_model_name("Qwen/Qwen2.5-VL-7B-Instruc")  # online, the hub decides
    with pytest.raises(ModelNotFoundError, match=r"runs/bx': no such checkpoint directory; closest: .*runs/bt"):
        names.check_model_name(str(tmp_path / "runs" / "bx"))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="is a file, not a checkpoint directory"):
        names.check_model_name(str(tmp_path / "weights.bin"))


def test_the_api_refuses_before_loading_anything():
    import mmreward

    with pytest.raises(ModelNotFoundError, match="closest: tiny"):
        mmreward.load("tinyy")


@pytest.mark.slow
def test_score_names_the_model_in_one_line_at_once_and_imports_no_torch(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "candidates": [{"text": "x"}]}\n')
    code = ("import sys; from mmreward.cli import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules, 'transformers' in sys.modules); sys.exit(rc)")
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-c", code, "score", "--model", "Qwen/Qwen2.5-VL-7B-Instruc", "--input",
                          str(inp), "--output", str(tmp_path / "typo.jsonl")], capture_output=True, text=True,
                         cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                                        "HOME": str(tmp_path)}, timeout=120)
    took = time.monotonic() - start
    assert run.returncode == 2 and run.stdout.split() == ["False", "False"], (run.stdout, run.stderr)
    err = run.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mmreward score: model 'Qwen/Qwen2.5-VL-7B-Instruc' is not"), err
    assert "typo.jsonl" not in err[0] and not (tmp_path / "typo.jsonl").exists()
    print(f"refused in {took:.2f} s")
