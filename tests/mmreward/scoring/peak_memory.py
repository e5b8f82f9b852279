"""Memory of one piece of work, not of whatever ran before it in the same pytest process.

`ru_maxrss` of the pytest process (RUSAGE_SELF) is the peak of every test before, and its
RUSAGE_CHILDREN the peak of every child it ever waited for: neither measures the work at hand.
- `run_measured`: a child process and its own peak resident memory (`os.wait4` of that pid).
- `PeakSince`: this process's peak resident memory since a moment, as growth over its resident
  memory then (Linux: the high-water mark reset through /proc/self/clear_refs).
- `vm_peak_of`: the peak address space (VmPeak) of `mmreward ARGS` run in a child.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading


def run_measured(cmd: list[str], timeout: float, **popen) -> tuple[subprocess.CompletedProcess, int]:
    """(the finished child, its peak resident memory in bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **popen)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        done = subprocess.CompletedProcess(cmd, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
    return done, usage.ru_maxrss * 1024


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


class PeakSince:
    """`growth()`: how far this process's resident memory rose above its level at construction."""

    def __init__(self):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # peak RSS (VmHWM) := current RSS; Linux >= 4.0
        self.start = _status("VmRSS")

    def growth(self) -> int:
        return _status("VmHWM") - self.start


VM_PEAK = """
import sys
from mmreward.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    print(next(line for line in f if line.startswith("VmPeak:")), file=sys.stderr)
sys.exit(code)
"""


def vm_peak_of(args: list[str], timeout: float, **popen) -> int:
    """Peak address space in bytes of `mmreward ARGS` (which must succeed), run in a child."""
    done = subprocess.run([sys.executable, "-c", VM_PEAK, *args], capture_output=True, text=True,
                          timeout=timeout, **popen)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stderr.splitlines() if x.startswith("VmPeak:"))
    return int(line.split()[1]) * 1024
