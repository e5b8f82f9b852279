"""One writer per output file: an advisory lock on `OUT.lock`, held for the whole run.

The lock is `flock` on the lock file, so the kernel drops it when its holder dies, a
`kill -9` included: a lock file that nobody holds is stale by definition, and the next run
takes it over (and says whose it was). The file records its holder (pid, host, start time)
so that a refused run can name it.

One file may have several names: the lock file sits beside the *resolved* output (symlinks
and `..` followed), and an output that exists is also flocked itself, so a run through a hard
link to it is refused too.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from mmreward.errors import InputError


class OutputLockedError(InputError):
    """Another live run holds the output."""


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


def _describe(holder: dict) -> str:
    started = holder.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started {when}"


def _read_holder(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 1 << 16)
    try:
        holder = json.loads(data) if data.strip() else {}
    except ValueError:
        holder = {"pid": "?", "host": "?"}
    return holder if isinstance(holder, dict) else {}


class OutputLock:
    """`with OutputLock(out):` -- exclusive use of `out`, or OutputLockedError naming the holder."""

    def __init__(self, target: str | os.PathLike):
        self.target = Path(target)
        self.path = lock_path(self.target.resolve())  # every alias of one file meets at one lock file
        self.fd: int | None = None
        self.file_fd: int | None = None  # the output itself, flocked: a hard link has no other meeting point
        self.taken_over: dict | None = None  # the holder of a stale lock this run took over

    def acquire(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputLockedError(
                    f"{self.target} is being written by another run ({_describe(holder)}); "
                    "wait for it to finish, or use another --output") from None
            # the holder we waited on may have removed the file just before we locked it
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_holder(fd)
        if previous:
            self.taken_over = previous
            print(f"{self.target}: taking over the lock of a run that is gone ({_describe(previous)})",
                  file=sys.stderr)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": " ".join(sys.argv)[:2000]}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
        self.fd = fd
        try:
            self._lock_output()
        except BaseException:
            self.release()
            raise
        return self

    def _lock_output(self) -> None:
        try:
            self.file_fd = os.open(self.target, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:  # nothing there yet: no other name can point at it
            return
        try:
            fcntl.flock(self.file_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputLockedError(
                f"{self.target} is being written by another run under another name (a hard link to the "
                "same file); wait for it to finish, or use another --output") from None

    def release(self) -> None:
        if self.file_fd is not None:
            os.close(self.file_fd)
            self.file_fd = None
        if self.fd is None:
            return
        try:
            self.path.unlink()  # while still locked: nobody can lock a file we are about to drop
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
