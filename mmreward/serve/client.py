"""`mmreward.Client`: talk to `mmreward serve` from a trainer, a rollout worker or a notebook.

    client = mmreward.Client("http://127.0.0.1:8000", api_key="...")
    client.score(records)                 # -> the output dicts, in order
    await client.ascore(records)          # the same from async code
    client.get_reward(queries, prompts, labels)   # OpenRLHF's protocol

Long record lists are split into requests of `max_records_per_request` (the server's own
limit when it is lower, read from /health once), sent up to `max_concurrency` at a time.
Connection failures, 429, 502 and 503 are retried with exponential backoff (honouring
Retry-After); other errors raise `ServiceError` with the server's message at once. In-memory
media (PIL images, arrays, tensors, bytes, frames) are sent as data: URIs
(`mmreward.serve.wire`); paths are sent as they are, for the server to read under its
--media-root, unless `media_root` is given, in which case they are read here (confined to
it) and sent inline. A record that cannot be encoded gets its `{"id", "error"}` here.

There is one implementation, asynchronous; the synchronous calls run it on the client's own
event-loop thread, so they also work where a loop is already running (notebooks, verl).
"""
from __future__ import annotations

import asyncio
import os
import random
import threading

from mmreward.errors import MmrewardError, require
from mmreward.serve.config import API_KEY_ENV

RETRY_STATUS = (429, 502, 503)


class ServiceError(MmrewardError):
    """The service refused or failed a request; `status` is the HTTP status (None: unreachable)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def base_url(url: str) -> str:
    """The service's root; an endpoint URL (…/v1/score, …/get_reward) is accepted too."""
    url = url.rstrip("/")
    for suffix in ("/v1/score", "/get_reward", "/health", "/metrics"):
        url = url.removesuffix(suffix)
    return url


class Client:
    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 600.0,
                 max_retries: int = 5, backoff: float = 0.5, max_backoff: float = 10.0,
                 max_records_per_request: int = 64, max_concurrency: int = 4):
        """`api_key` defaults to $MMREWARD_API_KEY; `timeout` bounds each request in seconds;
        `max_retries` retries after the first try, waiting `backoff * 2**k` seconds (at most
        `max_backoff`, with jitter); up to `max_concurrency` requests are in flight at a time."""
        self.httpx = require("httpx", "serve", "mmreward.Client")
        self.url = base_url(url)
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.timeout, self.max_retries = timeout, max_retries
        self.backoff, self.max_backoff = backoff, max_backoff
        self.max_records_per_request, self.max_concurrency = max_records_per_request, max_concurrency
        self._limits: dict | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    # ---------------------------------------------------------------- one request, with retries

    def delay(self, attempt: int, response=None) -> float:
        after = response is not None and response.headers.get("retry-after")
        if after and after.replace(".", "", 1).isdigit():
            return min(float(after), self.max_backoff)
        return min(self.backoff * 2 ** attempt, self.max_backoff) * (0.5 + random.random() / 2)

    def check(self, path: str, response):
        """The JSON of a 200 answer, else a ServiceError with the server's message."""
        if response.status_code == 200:
            return response.json()
        try:
            message = response.json().get("error", response.text)
        except (ValueError, AttributeError):
            message = response.text
        return ServiceError(f"{self.url}{path}: HTTP {response.status_code}: {message}", response.status_code)

    async def request(self, http, method: str, path: str, body=None):
        """One call on `http` (an httpx.AsyncClient), retried as the class says."""
        for attempt in range(self.max_retries + 1):
            response = None
            try:
                response = await http.request(method, self.url + path, json=body, headers=self.headers)
                result = self.check(path, response)
            except self.httpx.TransportError as exc:
                result = ServiceError(f"{self.url}{path}: no answer ({type(exc).__name__}: {exc})")
            if not isinstance(result, ServiceError):
                return result
            if result.status is not None and result.status not in RETRY_STATUS:
                raise result
            if attempt == self.max_retries:
                raise ServiceError(f"{result} (gave up after {self.max_retries + 1} tries)", result.status)
            await asyncio.sleep(self.delay(attempt, response))

    def session(self):
        return self.httpx.AsyncClient(timeout=self.timeout)

    async def acall(self, method: str, path: str, body=None):
        async with self.session() as http:
            return await self.request(http, method, path, body)

    def run(self, coroutine):
        """Run `coroutine` to its end on the client's own loop thread (started on first use)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="mmreward-client", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    # ---------------------------------------------------------------- API

    def health(self) -> dict:
        return self.run(self.acall("GET", "/health"))

    async def piece_size(self) -> int:
        if self._limits is None:
            self._limits = (await self.acall("GET", "/health")).get("limits", {})
        return max(1, min(self.max_records_per_request,
                          self._limits.get("max_records_per_request", self.max_records_per_request)))

    async def ascore(self, records, media_root=None) -> list[dict]:
        """The output dicts of `records` (docs/architecture.md, "Scoring records"), in order."""
        from mmreward.scoring.base import as_record_list
        from mmreward.serve.wire import to_json_records

        encoded, outputs = await asyncio.to_thread(to_json_records, as_record_list(records), media_root)
        todo = [i for i in range(len(encoded)) if i not in outputs]
        size = await self.piece_size() if todo else 1
        gate = asyncio.Semaphore(self.max_concurrency)
        async with self.session() as http:
            async def one(piece):
                body = [encoded[i] for i in piece]
                async with gate:
                    answer = await self.request(http, "POST", "/v1/score", body)
                if not isinstance(answer, list) or len(answer) != len(body):
                    raise ServiceError(f"{self.url}/v1/score answered {answer!r:.200} for {len(body)} records")
                outputs.update(zip(piece, answer))
            await asyncio.gather(*(one(todo[k:k + size]) for k in range(0, len(todo), size)))
        return [outputs[i] for i in range(len(encoded))]

    def score(self, records, media_root=None) -> list[dict]:
        """`ascore` for synchronous code."""
        return self.run(self.ascore(records, media_root))

    def get_reward(self, queries: list[str], prompts: list[str] | None = None, labels: list | None = None) -> dict:
        """OpenRLHF's remote reward call: {"rewards", "scores", "extra_logs"}."""
        return self.run(self.acall("POST", "/get_reward", {"query": queries, "prompts": prompts, "labels": labels}))

    def close(self) -> None:
        """Stop the client's loop thread (a later call starts another)."""
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
