"""Suite-wide settings: never reach a model hub; shared tiny-model fixtures."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    from mmreward.models.tiny import tiny_path

    return tiny_path()


@pytest.fixture(scope="session")
def image_pairs(tmp_path_factory) -> tuple[Path, list[dict]]:
    """(media root, records): 24 synthetic shape/colour pairs of 56x56 images."""
    from mmreward.synth.images import make_image_pairs

    root = tmp_path_factory.mktemp("pairs")
    return root, make_image_pairs(root, 24, seed=3, size=56)


@pytest.fixture(scope="session")
def scalar_rm():
    import mmreward

    return mmreward.load("tiny", "scalar", device="cpu")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: unknown where it is not installed
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist with `--dist loadfile` (how `.ci/run` runs the tests that start no
    processes): a module's tests stay on one worker, so its module fixtures are built once, and the
    vLLM engine test modules share one worker because they share one engine (a minute to start).
    (`--dist loadgroup` cannot do this on pytest 9: xdist 3.8 marks the groups in `item._nodeid`,
    which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            return "vllm-engine" if module.startswith("tests/mmreward/engines/test_vllm") else module

    return ModuleScheduling(config, log)
