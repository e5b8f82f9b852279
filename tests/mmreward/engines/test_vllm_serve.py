"""`mmreward serve --engine vllm` answers /v1/score with the outputs of the HF engine (the yes-token
judge on tiny-hd64, images as paths under --media-root): the replica starts its own engine."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))


def test_served_vllm_engine_scores_as_hf_in_process(media, hd64, tmp_path):
    pytest.importorskip("vllm", reason="the vLLM engine is not installed (pip install 'mmreward[vllm]')")
    pytest.importorskip("ray.serve")
    import mmreward
    from serve_helpers import Server

    root, images, _ = media
    records = [{k: r[k] for k in ("id", "prompt", "candidates")} for r in images]
    server = Server("--model", "tiny-hd64", "--mode", "generative", "--engine", "vllm", "--media-root", str(root),
                    "--cpus-per-replica", "1", log=tmp_path / "serve.log")
    try:
        hf = mmreward.load("tiny-hd64", "generative", device="cpu", dtype="float32")
        expected = hf.score(records, media_root=root)  # while the server starts
        server.wait_ready(timeout=600)
        import httpx

        assert httpx.get(server.url + "/health", timeout=30).json()["model"]["engine"] == "vllm"
        got = server.post("/v1/score", records, timeout=300).json()
    finally:
        server.stop()
    assert [g["id"] for g in got] == [e["id"] for e in expected]
    for g, e in zip(got, expected):
        assert g["preferred"] == e["preferred"]
        assert max(abs(a - b) for a, b in zip(g["p_yes"], e["p_yes"])) < 1e-3
