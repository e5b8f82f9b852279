"""The HTTP ingress deployment: auth, limits, validation and metrics in front of the model replicas.

Routes: `POST /v1/score`, `POST /get_reward` (OpenRLHF), `POST /score` (UniRL, mmreward.serve.unirl),
`GET /health` (no key needed), `GET /metrics` (Prometheus text). The ingress never loads a model
(it runs without torch); it splits each request's valid records into pieces of at most `max_batch_size` records
and sends them to the model deployment, whose `serve.batch` merges pieces of concurrent
requests into batches and whose router spreads them over the replicas.

Refusals, each a JSON `{"error": ...}` with its status: 401 (API key), 404/405, 400
(not JSON, wrong shape), 408 (body not received within `--body-timeout-s`), 413 (body or
record count over the limit, checked before the body is read when it declares its length),
422 (`/get_reward` item that cannot be scored, unless `--error-reward`), 429 + Retry-After
(more than `--max-receiving-per-client` bodies arriving from one address), 503 + Retry-After
(queue full, draining, a replica lost), 504 (timeout).

Slow clients: Ray's proxy hands a request to the ingress as soon as its headers arrive and
streams the body after it, so a client that sends its body slowly holds one of the ingress's
`max_ongoing_requests` slots while it does. The body timeout bounds how long, and the per-address
limit how many: a flood of slow connections from one address is refused at once instead of
leaving every other client waiting (until Ray's own cut-off of request_timeout_s + 30 s, a
plain-text 408).
A client that goes away mid-request cancels its pieces (`serve.batch` drops cancelled
calls before they run) and its queue slots are released.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections import Counter

from ray import serve
from starlette.requests import Request
from starlette.responses import Response

from mmreward.errors import RecordError
from mmreward.serve.config import ServeConfig
from mmreward.serve import unirl
from mmreward.serve.metrics import CONTENT_TYPE_LATEST, Metrics
from mmreward.serve.protocol import (ProtocolError, check_request_record, openrlhf_records, openrlhf_response,
                                     parse_json, record_id, score_request)

logger = logging.getLogger("ray.serve")

ROUTES = {"/v1/score": "POST", "/get_reward": "POST", "/score": "POST", "/health": "GET", "/metrics": "GET"}


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    # allow_nan: a NaN reward must reach the client (Python's json reads it), not fail the request
    return Response(json.dumps(data, allow_nan=True), status, headers, media_type="application/json")


def given_keys(request: Request) -> list[str]:
    keys = []
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        keys.append(auth[7:].strip())
    keys += [request.headers.get("x-api-key"), request.query_params.get("api_key")]
    return [k for k in keys if k]


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(413, f"request body of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ProtocolError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@serve.deployment(name="Ingress")
class Ingress:
    def __init__(self, model, settings: dict, api_key: str | None):
        self.model, self.cfg, self.api_key = model, ServeConfig(**settings), api_key
        self.metrics = Metrics()
        self.receiving: Counter[str] = Counter()  # client address -> bodies still arriving
        self.queued = 0  # records admitted, not yet answered
        self.active = 0  # scoring requests being answered
        self.draining = False
        self.model_info: dict | None = None

    async def __call__(self, request: Request) -> Response:
        path, start = request.url.path.rstrip("/") or "/", time.monotonic()
        endpoint = path if path in ROUTES else "other"
        self.metrics.in_flight.inc()
        status = 499  # what is recorded if the client leaves (the task is cancelled)
        try:
            response = await self.route(request, path)
            status = response.status_code
            return response
        except ProtocolError as exc:
            status = exc.status
            return json_response({"error": exc.message}, exc.status, exc.headers)
        except asyncio.CancelledError:
            self.metrics.errors.labels("client_disconnected").inc()
            raise
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.monotonic() - start)

    async def route(self, request: Request, path: str) -> Response:
        if path not in ROUTES:
            raise ProtocolError(404, f"no route {path}; routes: {', '.join(ROUTES)}")
        if request.method != ROUTES[path]:
            raise ProtocolError(405, f"{path} takes {ROUTES[path]}, not {request.method}",
                                {"Allow": ROUTES[path]})
        if path == "/health":
            return json_response(await self.health())
        self.authorize(request)
        if path == "/metrics":
            return Response(self.metrics.text(), media_type=CONTENT_TYPE_LATEST)
        body = await self.receive(request)
        data = parse_json(body)
        if path == "/v1/score":
            return json_response(await self.answer(score_request(data)))
        if path == "/score":
            requests, records = unirl.parse_score(data)
            outputs = await self.answer(records)
            return json_response(unirl.score_response(requests, outputs, await self.served_info()))
        outputs = await self.answer(openrlhf_records(data))
        return json_response(openrlhf_response(outputs, self.cfg.error_reward))

    async def receive(self, request: Request) -> bytes:
        """The body, within the body timeout and the per-address limit of bodies arriving at once."""
        client = request.client.host if request.client else "unknown"
        if self.receiving[client] >= self.cfg.max_receiving_per_client:
            self.metrics.errors.labels("client_limit").inc()
            raise ProtocolError(429, f"{self.receiving[client]} requests from {client} are still sending their "
                                     f"bodies (limit {self.cfg.max_receiving_per_client}); retry later",
                                {"Retry-After": "1"})
        self.receiving[client] += 1
        try:
            return await asyncio.wait_for(read_body(request, self.cfg.max_body_bytes), self.cfg.body_timeout_s)
        except asyncio.TimeoutError:
            self.metrics.errors.labels("body_timeout").inc()
            raise ProtocolError(408, f"the request body did not arrive within {self.cfg.body_timeout_s:g} s "
                                     "(--body-timeout-s)") from None
        finally:
            self.receiving[client] -= 1
            if not self.receiving[client]:
                del self.receiving[client]

    def authorize(self, request: Request) -> None:
        if self.api_key is None:
            return
        if not any(hmac.compare_digest(k.encode(), self.api_key.encode()) for k in given_keys(request)):
            self.metrics.errors.labels("unauthorized").inc()
            raise ProtocolError(401, "missing or wrong API key (send 'Authorization: Bearer KEY')",
                                {"WWW-Authenticate": "Bearer"})

    async def served_info(self) -> dict:
        if self.model_info is None:
            self.model_info = await self.model.info.remote()
            self.model_info.pop("replica", None)
        return self.model_info

    async def health(self) -> dict:
        info, cfg = await self.served_info(), self.cfg
        # "rewards": the names UniRL's client checks its required_rewards against
        return {"status": "draining" if self.draining else "ok", "model": info,
                "rewards": unirl.served_rewards(info),
                "limits": {"max_records_per_request": cfg.max_records_per_request,
                           "max_body_bytes": cfg.max_body_bytes, "max_batch_size": cfg.max_batch_size,
                           "max_queue": cfg.max_queue, "request_timeout_s": cfg.request_timeout_s,
                           "body_timeout_s": cfg.body_timeout_s,
                           "max_receiving_per_client": cfg.max_receiving_per_client,
                           "reads_paths": cfg.media_root is not None}}

    # ------------------------------------------------------------------ scoring

    async def answer(self, records: list) -> list[dict]:
        """One output per record, in order: checked here, scored by the model deployment."""
        if len(records) > self.cfg.max_records_per_request:
            raise ProtocolError(413, f"{len(records)} records in one request, over the limit of "
                                     f"{self.cfg.max_records_per_request}; split the list")
        outputs: list = [None] * len(records)
        todo = []
        for i, record in enumerate(records):
            try:
                if isinstance(record, RecordError):  # already refused by the protocol layer
                    raise record
                check_request_record(record, paths_allowed=self.cfg.media_root is not None)
                todo.append(i)
            except RecordError as exc:
                outputs[i] = {"id": record_id(record), "error": str(exc)}
                self.metrics.record_errors.labels("request").inc()
        self.admit(len(todo))
        self.active += 1
        try:
            scored = await asyncio.wait_for(self.run_model([records[i] for i in todo]),
                                            self.cfg.request_timeout_s)
        except asyncio.TimeoutError:
            self.metrics.errors.labels("timeout").inc()
            raise ProtocolError(504, f"not answered within {self.cfg.request_timeout_s:g} s") from None
        finally:
            self.active -= 1
            self.queued -= len(todo)
            self.metrics.queue_depth.set(self.queued)
        for i, out in zip(todo, scored):
            outputs[i] = out
            if "error" in out:
                self.metrics.record_errors.labels("model").inc()
        return outputs

    def admit(self, n: int) -> None:
        if self.draining:
            self.metrics.errors.labels("draining").inc()
            raise ProtocolError(503, "the server is shutting down", {"Retry-After": "5"})
        if n and self.queued + n > self.cfg.max_queue:
            self.metrics.errors.labels("queue_full").inc()
            raise ProtocolError(503, f"queue full: {self.queued} records waiting, {n} more would pass the "
                                     f"limit of {self.cfg.max_queue}; retry later", {"Retry-After": "1"})
        self.queued += n
        self.metrics.queue_depth.set(self.queued)

    async def run_model(self, records: list) -> list[dict]:
        size = self.cfg.max_batch_size
        calls = [self.model.score.remote(records[i:i + size]) for i in range(0, len(records), size)]
        try:
            answers = await asyncio.gather(*calls)
        except asyncio.CancelledError:
            for call in calls:
                call.cancel()
            raise
        except Exception as exc:  # a replica died or could not be reached: the client may retry
            for call in calls:
                call.cancel()
            logger.exception("model deployment call failed")
            self.metrics.errors.labels("model_unavailable").inc()
            raise ProtocolError(503, f"model replica failed: {type(exc).__name__}: {exc}",
                                {"Retry-After": "5"}) from None
        outputs = []
        for answer in answers:
            self.metrics.batch(answer["replica"], answer["batch"], answer["size"])
            self.metrics.records.labels(answer["replica"]).inc(len(answer["outputs"]))
            outputs.extend(answer["outputs"])
        return outputs

    async def drain(self, timeout_s: float) -> int:
        """Refuse new scoring requests, wait for those in flight; returns how many are left."""
        self.draining = True
        deadline = time.monotonic() + timeout_s
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.active
