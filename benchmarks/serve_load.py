"""Load on `mmreward serve`: 32 concurrent clients vs one request at a time, same records.

    python benchmarks/serve_load.py [--clients 32] [--pairs 256] [--replicas 1] [--max-batch-size 32]

Starts the service in this process (a local Ray cluster, the tiny scalar model on CPU,
127.0.0.1), then sends every synthetic image pair (two 56x56 PNGs as data: URIs, one pair
per request) twice: once one request at a time, once from `--clients` concurrent clients
(each sends its share one request after another). Prints records/s of both, their ratio,
p50/p99 latency, the batch sizes the service formed (its /metrics), the same model's own
batching gain in process (the ceiling of the ratio), and checks that every request was
answered exactly once with the rewards of in-process `score` (1e-5).
"""
from __future__ import annotations

import asyncio
import base64
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import aiohttp  # noqa: E402
import httpx  # noqa: E402

import mmreward  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402
from mmreward.serve.app import connect, start, stop  # noqa: E402
from mmreward.serve.config import ServeConfig  # noqa: E402
from mmreward.synth.images import make_image_pairs  # noqa: E402


@dataclass
class Settings:
    clients: int = field(default=32, metadata={"help": "concurrent clients in the batched run"})
    pairs: int = field(default=256, metadata={"help": "image pairs (one request each)"})
    replicas: int = field(default=1, metadata={"help": "model replicas (1 CPU each)"})
    max_batch_size: int = field(default=32, metadata={"help": "the service's --max-batch-size"})
    max_wait_ms: float = field(default=10.0, metadata={"help": "the service's --max-wait-ms"})
    port: int = field(default=8765, metadata={"help": "port on 127.0.0.1"})


def data_uri_records(root: Path, n: int) -> list[dict]:
    records = make_image_pairs(root, n, seed=0, size=56)
    for r in records:
        for c in r["candidates"]:
            c["images"] = ["data:image/png;base64," + base64.b64encode((root / c["images"][0]).read_bytes()).decode()]
    return [{k: r[k] for k in ("id", "prompt", "candidates")} for r in records]


async def send(http, url: str, record: dict, answers: dict, latencies: list) -> None:
    t = time.perf_counter()
    async with http.post(url, json=[record]) as response:
        response.raise_for_status()
        outputs = await response.json()
    latencies.append(time.perf_counter() - t)
    answers.setdefault(record["id"], []).extend(outputs)


async def run(url: str, records: list[dict], clients: int) -> tuple[float, list, dict]:
    """Seconds for all records, per-request latencies, {id: [outputs]}; `clients` senders
    (aiohttp: the lightest common asyncio client, so that the clients take little of the CPUs)."""
    answers, latencies = {}, []
    shares = [records[i::clients] for i in range(clients)]
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as http:
        async def client(share):
            for record in share:
                await send(http, url, record, answers, latencies)
        t = time.perf_counter()
        await asyncio.gather(*(client(share) for share in shares))
        return time.perf_counter() - t, latencies, answers


def check(records: list[dict], answers: dict, expected: dict) -> float:
    """Every request answered exactly once, with the in-process rewards; the largest difference."""
    assert sorted(answers) == sorted(r["id"] for r in records), "a request went unanswered or was answered twice"
    worst = 0.0
    for rid, outs in answers.items():
        assert len(outs) == 1 and outs[0]["id"] == rid, (rid, outs)
        worst = max(worst, *(abs(a - b) for a, b in zip(outs[0]["rewards"], expected[rid])))
    assert worst <= 1e-5, f"rewards differ from in-process score by {worst:.2e}"
    return worst


def batch_sizes(base: str) -> tuple[float, float]:
    text = httpx.get(base + "/metrics").text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line.startswith("mmreward_batch_size_"))
    return float(values.get("mmreward_batch_size_count", 0)), float(values.get("mmreward_batch_size_sum", 0))


def records_per_s(rm, records: list, per_call: int) -> float:
    rm.score(records[:per_call], batch_size=2 * per_call)  # warm-up
    start = time.perf_counter()
    for i in range(0, len(records), per_call):
        rm.score(records[i:i + per_call], batch_size=2 * per_call)
    return len(records) / (time.perf_counter() - start)


def pct(values: list, q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    args = parse_script(Settings, __doc__)
    records = data_uri_records(Path(tempfile.mkdtemp(prefix="mmreward-serve-load-")), args.pairs)
    rm = mmreward.load("tiny", "scalar", device="cpu")
    expected = {o["id"]: o["rewards"] for o in rm.score(records)}
    # the model's own gain from batching on this CPU, no service: the ceiling of the ratio below
    alone = records_per_s(rm, records[:64], 1)
    batched = records_per_s(rm, records[:64], args.max_batch_size)
    del rm

    cfg = ServeConfig(port=args.port, replicas=args.replicas, max_batch_size=args.max_batch_size,
                      max_wait_ms=args.max_wait_ms, batch_size=2 * args.max_batch_size)
    connect(cfg)
    start({"name": "tiny", "mode": "scalar", "device": "cpu"}, cfg)
    base = f"http://127.0.0.1:{args.port}"
    url = base + "/v1/score"
    try:
        asyncio.run(run(url, records[:8], 4))  # warm-up: lazy initialisation on the replicas
        seq_s, seq_lat, seq_answers = asyncio.run(run(url, records, 1))
        seq_diff = check(records, seq_answers, expected)
        count0, sum0 = batch_sizes(base)
        par_s, par_lat, par_answers = asyncio.run(run(url, records, args.clients))
        par_diff = check(records, par_answers, expected)
        count1, sum1 = batch_sizes(base)
    finally:
        stop(cfg)
        import ray

        ray.shutdown()
    n = len(records)
    print(f"{n} image pairs as data URIs, one pair per request; tiny scalar model on CPU, {args.replicas} "
          f"replica(s), max batch {args.max_batch_size}, max wait {args.max_wait_ms:g} ms")
    print(f"one request at a time : {n / seq_s:7.1f} records/s  ({seq_s:6.2f} s)  latency p50 "
          f"{pct(seq_lat, 50):6.1f} ms  p99 {pct(seq_lat, 99):6.1f} ms")
    print(f"{args.clients} concurrent clients : {n / par_s:7.1f} records/s  ({par_s:6.2f} s)  latency p50 "
          f"{pct(par_lat, 50):6.1f} ms  p99 {pct(par_lat, 99):6.1f} ms")
    print(f"ratio (batched / one at a time): {seq_s / par_s:.2f}x   mean batch in the concurrent run: "
          f"{(sum1 - sum0) / max(1, count1 - count0):.1f} records ({count1 - count0:.0f} batches)")
    print(f"in-process score, no service: {alone:.1f} records/s one record per call, {batched:.1f} with "
          f"{args.max_batch_size} per call ({batched / alone:.2f}x, the model's own batching gain)")
    print(f"every request answered exactly once; max |reward - in-process score|: "
          f"{max(seq_diff, par_diff):.1e}")


if __name__ == "__main__":
    main()
