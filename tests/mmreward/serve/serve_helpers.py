"""Starting `mmreward serve` for tests: a real process on 127.0.0.1, its own local Ray cluster."""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m mmreward.cli serve ARGS` until `stop()`; output in `log`."""

    def __init__(self, *args: str, log: Path, api_key: str | None = None, env: dict | None = None):
        """Starts the process; `wait_ready` waits for its /health."""
        self.port, self.api_key, self.log = free_port(), api_key, log
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_DEDUP_LOGS": "0", **(env or {})}
        cmd = [sys.executable, "-m", "mmreward.cli", "serve", "--port", str(self.port), "--num-cpus", "2", *args]
        if api_key:
            cmd += ["--api-key", api_key]
        self.out = open(log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    def wait_ready(self, timeout: float = 300) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mmreward serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mmreward serve not ready in {timeout} s:\n{self.log.read_text()}")

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def post(self, path: str, body=None, *, content: bytes | None = None, headers=None, timeout=120):
        if content is None:
            content = json.dumps(body).encode()
        return httpx.post(self.url + path, content=content, timeout=timeout,
                          headers={"Content-Type": "application/json", **self.headers, **(headers or {})})

    def metrics(self) -> dict[str, float]:
        """The Prometheus samples: 'name{labels}' -> value."""
        text = httpx.get(self.url + "/metrics", headers=self.headers, timeout=30).text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                samples[key] = float(value)
        return samples

    def stop(self, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self.out.close()
        return self.proc.returncode


def processes_with(tag: str) -> list[str]:
    """'pid command' of every live process whose environment holds `tag` (a process started with
    it in its environment, and everything that process started)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if tag.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append(f"{pid} " + f.read().replace(b"\0", b" ").decode(errors="replace").strip())
        except OSError:  # gone, or not ours to read
            continue
    return found


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG whose header declares width x height (a decompression bomb if decoded)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR: after the signature, length and type
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)
