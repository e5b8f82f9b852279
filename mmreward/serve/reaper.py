"""No process left behind: a local Ray cluster's processes end with the command that started it.

`ray.shutdown()` stops the head node's GCS and raylet, but the agents the raylet started
(`ray::DashboardAgent`, `ray::RuntimeEnvAgent`) outlive them when the stop comes during
start-up, and a stop inside `ray.init` can leave half a node. So `mmreward serve` first makes
itself the child subreaper (Linux `prctl(PR_SET_CHILD_SUBREAPER)`): every process it starts,
however deep, becomes its child when its own parent dies; `reap` then ends whatever is still
alive after the shutdown, SIGTERM first, SIGKILL after a grace period. Used only by the
command's own process (a subreaper in a test runner or a notebook would adopt their orphans),
only for a cluster it started, and only where Linux offers it (elsewhere both are no-ops).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def adopt_orphans() -> bool:
    """Become the subreaper of every process started from here on; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(pid: int | None = None) -> list[int]:
    """Processes below `pid` (default: this one), from /proc."""
    pid = os.getpid() if pid is None else pid
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])  # after "pid (comm) state"
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _collect(pids: list[int]) -> list[int]:
    """The pids still alive; children of ours that have ended are waited for (no zombies)."""
    alive = []
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not (or no longer) our child: ask the kernel whether it lives
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            done = 0
        if not done:
            alive.append(pid)
    return alive


def reap(grace_s: float = 5.0) -> list[int]:
    """End every descendant of this process (SIGTERM, then SIGKILL after `grace_s`); returns the
    pids that had to be ended."""
    if not sys.platform.startswith("linux"):
        return []
    pids = descendants()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _collect(pids):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 5.0)
        while _collect(pids) and time.monotonic() < deadline:
            time.sleep(0.1)
    return pids
