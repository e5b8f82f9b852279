"""One training run per --out, and no run silently on top of another's files.

`claimed(out, resume, overwrite)` holds the run's lock for its whole duration: `flock` on
`<out>.lock`, taken on the resolved path (a symlink to the same folder is the same run), from the
first process only (`RANK` 0 of a torchrun / accelerate launch), so a second run into the same
folder is refused at once, naming the holder. An --out that already holds a run (checkpoints,
logs, a model) is refused too unless the run continues it (--resume) or starts it over
(--overwrite: the old checkpoints and logs are removed first).
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from mmreward.errors import ConfigError
from mmreward.train import checkpoints

# what a run leaves in its --out (the final model's files are overwritten by the next run's)
RUN_FILES = ("train_summary.json", "train_log.jsonl", "grpo_log.jsonl", "rft_traces.jsonl", "rft_keep_rate.json",
             "config.json", "adapter_config.json", "reward_config.json")


def first_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def run_files(out: Path) -> list[Path]:
    found = [p for p in out.glob(f"{checkpoints.PREFIX}*") if p.is_dir()]
    found += [out / name for name in (checkpoints.STAGING, *RUN_FILES) if (out / name).exists()]
    return sorted(found)


def check_out(out: str | Path, resume: bool, overwrite: bool) -> None:
    """Refuse an --out that holds another run, unless told what to do with it; remove it with overwrite."""
    out = Path(out)
    if resume and overwrite:
        raise ConfigError("--resume continues the run in --out, --overwrite starts it over: give one of them")
    existing = run_files(out) if out.is_dir() else []
    if not existing or resume:
        return
    if not overwrite:
        names = ", ".join(p.name for p in existing[:4]) + (" ..." if len(existing) > 4 else "")
        raise ConfigError(f"--out {out} already holds a training run ({names}); add --resume to continue it "
                          "or --overwrite to start over")
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextmanager
def claimed(out: str | Path, resume: bool = False, overwrite: bool = False):
    """The run's hold on `out` (see the module's docstring); only the first process takes it."""
    if not first_process():
        yield
        return
    from mmreward.scoring.lock import OutputLock, OutputLockedError

    target = Path(out).expanduser().resolve()
    lock = OutputLock(target)
    try:
        lock.acquire()
    except OutputLockedError as exc:
        raise OutputLockedError(f"--out {out}: another training run is using it ({exc})") from None
    try:
        check_out(target, resume, overwrite)
        yield
    finally:
        lock.release()
