"""Checkpoints that are complete or absent, and resuming from the newest complete one.

Every stage writes checkpoint N into `<out>/.incomplete/checkpoint-N` (all processes write
their parts there: the main process the weights and optimizer, each process its RNG state);
once every process is done, the main process renames it to `<out>/checkpoint-N`. A rename
within one file system is atomic, so a `checkpoint-N` folder is always whole, and a run
killed during a save leaves only its staging folder, which `resume_point` skips with a
warning (the next save of that step replaces it).

Fault injection: with `MMREWARD_CRASH_AT=checkpoint-N` in its environment a process kills
itself (SIGKILL) while writing that checkpoint, after the weights and before the state file
that completes it (Trainer stages: before the optimizer; GRPO: before grpo_state.json): the
same point on every run, so the kill-during-save test does not depend on timing.

A checkpoint also lists every file it holds, with its size (`manifest.json`, written last, before
the rename): a file damaged afterwards (truncated by a full disk, a copy cut short, a second run
writing into the same --out) makes `resume_point` skip that checkpoint, with a warning naming the
file, and fall back to the previous complete one.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import json
import sys
from pathlib import Path

STAGING = ".incomplete"
PREFIX = "checkpoint-"
CRASH_ENV = "MMREWARD_CRASH_AT"
MANIFEST = "manifest.json"


def step_of(path: Path) -> int | None:
    match = re.fullmatch(rf"{PREFIX}(\d+)", path.name)
    return int(match.group(1)) if match else None


def crash_point(name: str) -> None:
    """Die here (SIGKILL, no clean-up) when MMREWARD_CRASH_AT names this checkpoint."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def begin(out: str | Path, name: str, processes) -> Path:
    """An empty staging folder for checkpoint `name`, ready for every process to write into.

    `processes`: accelerate's Accelerator or PartialState (main process, barrier).
    """
    staging = Path(out) / STAGING / name
    if processes.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)  # left by an earlier run killed while saving this step
        staging.mkdir(parents=True)
    processes.wait_for_everyone()
    return staging


def commit(out: str | Path, name: str, processes) -> Path:
    """Rename the staging folder of `name` into place once every process has written its part."""
    processes.wait_for_everyone()
    final = Path(out) / name
    if processes.is_main_process:
        staging = Path(out) / STAGING / name
        write_manifest(staging)
        _fsync_tree(staging)  # the files are on disk before the name says they are complete
        if final.exists():  # the same step saved by an earlier run that went further: replace it
            replaced = Path(out) / STAGING / f"{name}.replaced"
            shutil.rmtree(replaced, ignore_errors=True)
            os.rename(final, replaced)
            os.rename(staging, final)
            shutil.rmtree(replaced)
        else:
            os.rename(staging, final)
        _fsync(Path(out))
        try:
            (Path(out) / STAGING).rmdir()  # only when empty: a folder left by a killed save stays
        except OSError:
            pass
    processes.wait_for_everyone()
    return final


def resume_point(out: str | Path, required: str, say: bool = True) -> Path | None:
    """The newest complete checkpoint in `out` (a `checkpoint-N` holding `required`), or None.

    Says which it picked and warns about each one it skips (`say`: on the main process only).
    """
    out = Path(out)

    def tell(text: str) -> None:
        if say:
            print(f"mmreward train: {text}", file=sys.stderr, flush=True)

    staging = out / STAGING
    for partial in sorted(staging.glob(f"{PREFIX}*")) if staging.is_dir() else []:
        tell(f"warning: skipping incomplete checkpoint {partial} (its save did not finish)")
    found = sorted((p for p in out.glob(f"{PREFIX}*") if p.is_dir() and step_of(p) is not None),
                   key=step_of, reverse=True)
    for path in found:
        damage = damaged(path)
        if damage:
            tell(f"warning: skipping {path}: {damage}")
        elif (path / required).is_file():
            tell(f"resuming from {path} (step {step_of(path)})")
            return path
        else:
            tell(f"warning: skipping {path}: it has no {required} (not a complete checkpoint)")
    tell(f"no complete checkpoint in {out}: starting from the beginning")
    return None


def write_manifest(folder: Path) -> None:
    files = {str(f.relative_to(folder)): f.stat().st_size for f in sorted(folder.rglob("*"))
             if f.is_file() and f != folder / MANIFEST}
    (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1) + "\n")


def damaged(folder: Path) -> str | None:
    """What is wrong with a committed checkpoint's files (None: nothing, or it predates manifests)."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return None
    try:
        files = json.loads(manifest.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {MANIFEST} is unreadable"
    for name, size in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} is damaged ({path.stat().st_size} bytes, {size} when it was written)"
    return None


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            _fsync(Path(folder, name))
        _fsync(Path(folder))


def _fsync(path: Path) -> None:
    """fsync a file, or a folder (its entries: the names in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
