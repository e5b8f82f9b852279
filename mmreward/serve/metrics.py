"""The service's Prometheus metrics (`GET /metrics`), kept by the HTTP ingress.

Every record goes through the ingress and comes back with the model replica and batch
that scored it, so one process sees the whole picture: requests, records, batch sizes
(each batch counted once), per-replica work, queue depth, latency and errors.
"""
from __future__ import annotations

from collections import OrderedDict

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self):
        disable_created_metrics()  # no `_created` series beside each counter (process-wide setting)
        self.registry = r = CollectorRegistry()
        self.requests = Counter("mmreward_requests", "HTTP requests answered", ["endpoint", "code"], registry=r)
        self.latency = Histogram("mmreward_request_latency_seconds", "time from request to answer",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.records = Counter("mmreward_records", "records scored, by model replica", ["replica"], registry=r)
        self.record_errors = Counter("mmreward_record_errors", "records answered with an error entry",
                                     ["stage"], registry=r)
        self.errors = Counter("mmreward_errors", "requests refused or failed, by reason", ["reason"], registry=r)
        self.batches = Counter("mmreward_batches", "model batches run, by replica", ["replica"], registry=r)
        self.batch_size = Histogram("mmreward_batch_size", "records per model batch", buckets=BATCH_BUCKETS,
                                    registry=r)
        self.queue_depth = Gauge("mmreward_queue_depth", "records admitted and not yet answered", registry=r)
        self.in_flight = Gauge("mmreward_requests_in_flight", "requests being answered", registry=r)
        self._seen: OrderedDict[tuple, None] = OrderedDict()  # recent (replica, batch) ids

    def batch(self, replica: str, batch: int, size: int) -> None:
        """A result came from this batch: count the batch the first time it is seen."""
        key = (replica, batch)
        if key in self._seen:
            return
        self._seen[key] = None
        if len(self._seen) > 4096:
            self._seen.popitem(last=False)
        self.batches.labels(replica).inc()
        self.batch_size.observe(size)

    def text(self) -> bytes:
        return generate_latest(self.registry)
