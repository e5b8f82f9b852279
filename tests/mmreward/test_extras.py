"""Optional extras: the core installs score without them; a missing one is a one-line message naming it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# every import an optional extra provides (pyproject.toml [project.optional-dependencies])
EXTRAS = ("gradio", "gradio_client", "open_clip", "mujoco", "gymnasium", "ray", "aiohttp", "trl",
          "rapidocr_onnxruntime", "onnxruntime", "peft")
BLOCK = f"import sys\nfor m in {EXTRAS!r}: sys.modules[m] = None\n"


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_core_scores_with_the_tiny_model_without_any_extra(tmp_path):
    code = (
        "from PIL import Image\n"
        "Image.new('RGB', (56, 56), (200, 30, 30)).save('a.png')\n"
        "Image.new('RGB', (56, 56), (30, 30, 200)).save('b.png')\n"
        "import mmreward\n"
        "out = mmreward.load('tiny').score([{'id': 1, 'prompt': 'a red square',\n"
        "    'candidates': [{'images': ['a.png']}, {'images': ['b.png']}]}], media_root='.')\n"
        "assert len(out[0]['rewards']) == 2, out\n"
        f"leaked = [m for m in {EXTRAS!r} if sys.modules.get(m) is not None]\n"
        "assert not leaked, leaked\n"
        "print('scored', out[0]['preferred'])\n")
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "scored" in done.stdout


def test_app_without_gradio_names_the_extra(tmp_path):
    code = f"import runpy\nsys.argv = ['app.py']\nrunpy.run_path({str(REPO / 'app.py')!r}, run_name='__main__')\n"
    done = run_python(code, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert "pip install 'mmreward[app]'" in done.stderr


def test_clip_reward_without_mujoco_names_the_extra(monkeypatch, tmp_path, capsys):
    from mmreward.cli import main

    monkeypatch.setitem(sys.modules, "mujoco", None)
    rc = main(["clip-reward", "--goal", "a", "--baseline", "b", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert err.startswith("mmreward clip-reward: ") and "pip install 'mmreward[mujoco]'" in err
