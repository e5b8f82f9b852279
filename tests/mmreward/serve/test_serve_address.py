"""`mmreward serve --address`: the service joins a Ray cluster someone else started (as under verl
or OpenRLHF), serves from it, and on SIGTERM removes its application but leaves the cluster up."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from serve_helpers import Server

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

# Ray >= 2.5x turns on token authentication for clusters it starts; a cluster and its drivers on
# one test machine do not need it, and the service's own auth is its API key.
NO_RAY_AUTH = {"RAY_AUTH_MODE": "disabled"}

OWNER = textwrap.dedent("""
    import sys, ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(ray.get_runtime_context().gcs_address, flush=True)
    sys.stdin.read()  # until the test closes our stdin
    ray.shutdown()
""")

PROBE = textwrap.dedent("""
    import json, sys, ray
    from ray import serve
    ray.init(address=sys.argv[1], log_to_driver=False)
    print(json.dumps({"nodes": sum(n["Alive"] for n in ray.nodes()),
                      "apps": sorted(serve.status().applications)}))
""")


@pytest.fixture
def cluster(monkeypatch):
    """The address of a 2-CPU Ray cluster owned by another process."""
    for key, value in NO_RAY_AUTH.items():
        monkeypatch.setenv(key, value)
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        address = owner.stdout.readline().strip()
        assert address, "the Ray cluster did not start"
        yield address
    finally:
        owner.stdin.close()
        try:
            owner.wait(60)
        except subprocess.TimeoutExpired:
            owner.kill()
            owner.wait(30)


def test_serve_joins_an_existing_cluster_and_leaves_it_running(cluster, scalar_rm, image_pairs, tmp_path):
    import json

    root, records = image_pairs
    records = [{k: r[k] for k in ("id", "prompt", "candidates")} for r in records[:3]]
    srv = Server("--model", "tiny", "--mode", "scalar", "--device", "cpu", "--address", cluster,
                 "--media-root", str(root), log=tmp_path / "serve.log")
    try:
        srv.wait_ready()
        answer = srv.post("/v1/score", records)
        assert answer.status_code == 200, answer.text
        expected = scalar_rm.score(records, media_root=root)
        for got, want in zip(answer.json(), expected):
            assert got["id"] == want["id"]
            assert got["rewards"] == pytest.approx(want["rewards"], abs=1e-5)
    finally:
        code = srv.stop()
    log = srv.log.read_text()
    assert code == 0, log
    assert "Connected to Ray cluster" in log or "existing Ray cluster" in log  # it joined, did not start one
    probe = subprocess.run([sys.executable, "-c", PROBE, cluster], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr[-2000:]
    state = json.loads(probe.stdout.strip().splitlines()[-1])
    assert state["nodes"] >= 1  # the cluster is still up
    assert state["apps"] == []  # and the service's application is gone
