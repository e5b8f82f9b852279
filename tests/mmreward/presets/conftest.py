"""Checkpoints in the released layouts, built once per session (see official_layouts.py)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from official_layouts import SMALL_CLIPS, VIDEOS, build_skywork, build_videoreward_release


@pytest.fixture(scope="session")
def videoreward(tmp_path_factory):
    """build_videoreward_release(...)'s dict: base/ and release/ dirs plus the live objects."""
    return build_videoreward_release(tmp_path_factory.mktemp("videoreward"))


@pytest.fixture(scope="session")
def videoreward_rm(videoreward):
    import mmreward

    return mmreward.load(str(videoreward["release"]), device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def skywork(tmp_path_factory):
    return build_skywork(tmp_path_factory.mktemp("skywork"))


@pytest.fixture(scope="session")
def clip_root(tmp_path_factory) -> Path:
    """A media root holding the two small real clips."""
    root = tmp_path_factory.mktemp("clips")
    for name in SMALL_CLIPS:
        shutil.copyfile(VIDEOS / name, root / name)
    return root
