"""What the user gave is checked before the heavy imports: a missing file is reported without torch
(or transformers) being imported, in one line."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CASES = {  # argv -> the one line expected
    "score": (["score", "--input", "missing.jsonl", "--output", "o.jsonl"],
              "mmreward score: input 'missing.jsonl': no such file"),
    "score media root": (["score", "--input", "in.jsonl", "--output", "o.jsonl", "--media-root", "nowhere"],
                         "mmreward score: --media-root 'nowhere' is not a directory"),
    "score model": (["score", "--model", "tinyy", "--input", "in.jsonl", "--output", "o.jsonl"],
                    "mmreward score: model 'tinyy' is not a preset"),
    "probe": (["probe", "--data", "missing.jsonl", "--out", "p"], "mmreward probe: --data 'missing.jsonl': no such file"),
    "calibrate": (["calibrate", "--data", "missing.jsonl", "--out", "c", "--save-to", "d"],
                  "mmreward calibrate: --data 'missing.jsonl': no such file"),
    "eval run": (["eval", "run", "--benchmark", "vl-rewardbench", "--data", "missing.jsonl", "--out", "e"],
                 "mmreward eval run: data file not found: missing.jsonl"),
    "eval run model": (["eval", "run", "--benchmark", "vl-rewardbench", "--data", "in.jsonl", "--out", "e",
                        "--model", "./no/such/dir"], "mmreward eval run: model './no/such/dir': no such checkpoint"),
}

PROBE = """
import contextlib, io, json, sys
from mmreward.cli import main
seen = {}
for name, argv in json.loads(sys.argv[1]).items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    seen[name] = [rc, err.getvalue().strip().splitlines(), "torch" in sys.modules, "transformers" in sys.modules]
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_missing_files_and_models_are_refused_before_torch_is_imported(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "prompt": "p", "candidates": [{"text": "x"}]}\n')
    run = subprocess.run([sys.executable, "-c", PROBE, json.dumps({k: v[0] for k, v in CASES.items()})],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
                              "HOME": str(tmp_path)})
    seen = json.loads(run.stdout)
    for name, (_, line) in CASES.items():
        rc, err, torch, transformers = seen[name]
        assert rc == 2 and len(err) == 1 and err[0].startswith(line), (name, err)
        assert not torch and not transformers, (name, "imported torch" if torch else "imported transformers")
    assert not list(tmp_path.glob("o.jsonl*")) and not (tmp_path / "e").exists()
