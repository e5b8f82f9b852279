"""Memory of one piece of work, not of whatever ran before it in the same pytest process.

`ru_maxrss` of the pytest process (RUSAGE_SELF) is the peak of every test before, and its
RUSAGE_CHILDREN the peak of every child it ever waited for: neither measures the work at hand.
- `run_measured`: `mmreward ARGS` in a child, with its own peak address space and resident memory.
- `PeakSince`: this process's peak resident memory since a moment, as growth over its resident
  memory then (Linux: the high-water mark reset through /proc/self/clear_refs).
"""
from __future__ import annotations

import subprocess
import sys


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


MEASURED = """
import sys
from mmreward.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    print(*(line.strip() for line in f if line.startswith(("VmPeak:", "VmHWM:"))), sep="\\n", file=sys.stderr)
sys.exit(code)
"""


def run_measured(args: list[str], timeout: float, **popen) -> tuple[subprocess.CompletedProcess, dict]:
    """`mmreward ARGS` run in a child: (the finished child, {"VmPeak": bytes, "VmHWM": bytes}), its own
    peak address space and resident memory, read by the child at its end (`os.wait4`'s ru_maxrss
    would also count the parent's resident memory: Linux folds the pre-exec image's peak into it)."""
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], capture_output=True, text=True,
                          timeout=timeout, **popen)
    peaks = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in done.stderr.splitlines()
             if line.startswith(("VmPeak:", "VmHWM:"))}
    return done, peaks


def vm_peak_of(args: list[str], timeout: float, **popen) -> int:
    """Peak address space in bytes of `mmreward ARGS` (which must succeed), run in a child."""
    done, peaks = run_measured(args, timeout, **popen)
    assert done.returncode == 0, done.stderr[-3000:]
    return peaks["VmPeak"]
