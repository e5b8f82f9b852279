"""`mmreward.Client` against a real HTTP server on 127.0.0.1 that misbehaves on purpose:
retries with backoff, Retry-After, splitting, errors that must not be retried, async."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import mmreward
from mmreward.serve.client import ServiceError


class Flaky(BaseHTTPRequestHandler):
    """Answers /v1/score with {"id", "rewards": [len(record)]} after `fail` refusals (status
    `refuse_with`, Retry-After 0); logs each body."""

    def log_message(self, *args):
        pass

    def reply(self, status: int, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(200, {"status": "ok", "model": {"name": "flaky", "kind": "scalar", "dimensions": []},
                         "limits": {"max_records_per_request": self.server.limit}})

    def do_POST(self):
        records = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state = self.server
        with state.lock:
            state.bodies.append((self.headers.get("Authorization"), records))
            failing = state.fail > 0
            state.fail -= 1
        if failing:
            return self.reply(state.refuse_with, {"error": "queue full"}, [("Retry-After", "0")])
        if any(r.get("prompt") == "refuse" for r in records):
            return self.reply(400, {"error": "the body must be a JSON list of records"})
        self.reply(200, [{"id": r.get("id"), "rewards": [float(len(r["prompt"]))], "preferred": 0} for r in records])


@pytest.fixture()
def flaky():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    server.lock, server.bodies, server.fail, server.limit, server.refuse_with = threading.Lock(), [], 0, 4, 503
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def url_of(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def records(n: int) -> list[dict]:
    return [{"id": i, "prompt": "x" * (i + 1), "candidates": [{"text": "t"}]} for i in range(n)]


def test_long_lists_are_split_to_the_servers_limit_and_come_back_in_order(flaky):
    client = mmreward.Client(url_of(flaky) + "/v1/score", api_key="k", max_records_per_request=64)
    out = client.score(records(10))
    assert [o["id"] for o in out] == list(range(10))
    assert [o["rewards"][0] for o in out] == [float(i + 1) for i in range(10)]
    assert sorted(len(body) for _, body in flaky.bodies) == [2, 4, 4]  # the server's limit (4) won over 64
    assert {auth for auth, _ in flaky.bodies} == {"Bearer k"}


@pytest.mark.parametrize("status", [503, 429])  # queue full; too many bodies arriving from this address
def test_503_and_429_are_retried_and_other_errors_are_not(flaky, status):
    flaky.refuse_with = status
    flaky.fail = 2
    client = mmreward.Client(url_of(flaky), backoff=0.01)
    assert client.score(records(1))[0]["rewards"] == [1.0]
    assert len(flaky.bodies) == 3  # two refusals, then the answer

    flaky.fail = 10
    with pytest.raises(ServiceError, match=f"HTTP {status}: queue full .gave up after 3 tries") as gave_up:
        mmreward.Client(url_of(flaky), max_retries=2, backoff=0.01).score(records(1))
    assert gave_up.value.status == status

    flaky.fail, before = 0, len(flaky.bodies)
    with pytest.raises(ServiceError, match="HTTP 400: the body must be") as refused:
        client.score([{"id": 0, "prompt": "refuse", "candidates": [{"text": "t"}]}])
    assert refused.value.status == 400 and len(flaky.bodies) == before + 1  # asked once only


def test_an_unreachable_server_is_retried_with_backoff_then_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = mmreward.Client(f"http://127.0.0.1:{port}", max_retries=3, backoff=0.05, max_backoff=0.1)
    start = time.monotonic()
    with pytest.raises(ServiceError, match=f"127.0.0.1:{port}/health: no answer .*gave up after 4 tries"):
        client.score(records(1))
    assert time.monotonic() - start >= 3 * 0.05 * 0.5  # it waited between tries (jitter >= half)


def test_async_pieces_go_concurrently_and_keep_their_order(flaky):
    flaky.fail = 1
    client = mmreward.Client(url_of(flaky), backoff=0.01, max_concurrency=3)
    out = asyncio.run(client.ascore(records(11)))
    assert [o["id"] for o in out] == list(range(11))
    assert len(flaky.bodies) == 4  # pieces of 4, 4, 3; the one refused was sent again


def test_a_record_the_client_cannot_encode_gets_its_error_here(flaky, tmp_path):
    client = mmreward.Client(url_of(flaky))
    out = client.score([{"id": "a", "prompt": "p", "images": ["missing.png"], "candidates": [{"text": "t"}]},
                        *records(1)], media_root=tmp_path)  # media_root: read paths here, send them inline
    assert out[0] == {"id": "a", "error": "record: image 'missing.png' not found under media root"}
    assert out[1]["rewards"] == [1.0]
    assert [len(body) for _, body in flaky.bodies] == [1]
