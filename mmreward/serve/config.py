"""`ServeConfig`: how `mmreward serve` runs (the model options are `mmreward.models.options`)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmreward.errors import ConfigError

#: the environment variable that holds the API key when `--api-key` is not given
API_KEY_ENV = "MMREWARD_API_KEY"


@dataclass
class ServeConfig:
    _argument_group_name = "serving"

    host: str = field(default="127.0.0.1", metadata={
        "help": "address the HTTP server binds (0.0.0.0 exposes it to the network: set an API key)"})
    port: int = field(default=8000, metadata={"help": "HTTP port"})
    replicas: int | None = field(default=None, metadata={
        "help": "model replicas (each loads the model once). Default: one per GPU of the Ray cluster, "
                "else 1"})
    address: str | None = field(default=None, metadata={
        "help": "address of an existing Ray cluster ('auto', 'HOST:6379', 'ray://HOST:10001'). "
                "Default: start a local one"})
    num_cpus: int | None = field(default=None, metadata={
        "help": "CPUs of the local Ray cluster (default: all); ignored with --address"})
    cpus_per_replica: float = field(default=1.0, metadata={
        "help": "CPUs Ray reserves for each model replica (its torch threads on CPU)"})
    gpus_per_replica: float | None = field(default=None, metadata={
        "help": "GPUs Ray reserves for each model replica. Default: 1 when the cluster has GPUs and "
                "--device is not cpu, else 0"})
    api_key: str | None = field(default=None, metadata={
        "help": f"require this key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY', or "
                f"'?api_key=KEY' for clients that cannot set headers, such as OpenRLHF: it then shows in URLs and logs); default: ${API_KEY_ENV} if set, "
                f"else no key"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory that media paths in requests are relative to; nothing outside it is read. "
                "Without it the server reads no paths: media must come as data: URIs"})
    max_batch_size: int = field(default=32, metadata={
        "help": "records per dynamic batch, gathered across concurrent requests"})
    max_wait_ms: float = field(default=10.0, metadata={
        "help": "how long a batch waits for more records before it runs"})
    batch_size: int = field(default=32, metadata={"help": "prompts per forward pass inside a batch"})
    max_body_mb: float = field(default=64.0, metadata={"help": "largest request body; larger ones get 413"})
    max_records_per_request: int = field(default=512, metadata={
        "help": "records per request; more get 413 (mmreward.Client splits larger lists)"})
    max_queue: int = field(default=1024, metadata={
        "help": "records admitted and not yet answered; a request that would exceed it gets 503 "
                "with Retry-After"})
    request_timeout_s: float = field(default=300.0, metadata={
        "help": "a request not answered in this time gets 504 and its records are dropped"})
    body_timeout_s: float = field(default=30.0, metadata={
        "help": "a request whose body has not arrived in this time gets 408 (a slow client holds the "
                "ingress this long at most)"})
    max_receiving_per_client: int = field(default=64, metadata={
        "help": "requests from one client address whose bodies are still arriving; more get 429 with "
                "Retry-After, so slow connections from one address cannot take every slot of the ingress"})
    error_reward: float | None = field(default=None, metadata={
        "help": "/get_reward: the reward of an item that cannot be scored (flagged in extra_logs as "
                "mmreward_error). Default: the request fails with 422 naming the item"})
    app_name: str = field(default="mmreward", metadata={"help": "Ray Serve application name"})

    def __post_init__(self):
        for name in ("max_batch_size", "batch_size", "max_records_per_request", "max_queue", "port",
                     "max_receiving_per_client"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("max_wait_ms", "cpus_per_replica"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if self.max_body_mb <= 0 or self.request_timeout_s <= 0 or self.body_timeout_s <= 0:
            raise ConfigError("--max-body-mb, --request-timeout-s and --body-timeout-s must be positive")
        if self.replicas is not None and self.replicas < 1:
            raise ConfigError(f"--replicas must be at least 1, got {self.replicas}")
        if self.max_records_per_request > self.max_queue:
            raise ConfigError(f"--max-records-per-request ({self.max_records_per_request}) must not exceed "
                              f"--max-queue ({self.max_queue}): such a request could never be admitted")
        if self.max_queue < self.max_batch_size:
            raise ConfigError(f"--max-queue ({self.max_queue}) must hold at least one batch "
                              f"(--max-batch-size {self.max_batch_size})")

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def resolved_api_key(self) -> str | None:
        """`--api-key`, else the environment variable; an empty string means no key."""
        return self.api_key or os.environ.get(API_KEY_ENV) or None
