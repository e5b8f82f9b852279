"""`mmreward.load("http://HOST:PORT")`: a `BaseRewardModel` whose scoring happens in `mmreward serve`.

So everything that takes a reward model (the `score` command, combined rewards, probes, the
RL adapters) can use a service instead. The model, its mode and its judging options are the
server's; a client can only fill in `criteria` for records that give none.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.errors import ConfigError
from mmreward.families import Family
from mmreward.models.options import Options
from mmreward.scoring.base import BaseRewardModel
from mmreward.serve.client import Client


@dataclass
class ClientOptions(Options):
    """What a client chooses; the model, its mode and its judging options are the server's
    (`mmreward serve` options)."""

    _minimum = {"max_retries": 0, "max_records_per_request": 1, "max_concurrency": 1}
    _positive = ("timeout",)

    api_key: str | None = field(default=None, metadata={"help": "the service's key (default: $MMREWARD_API_KEY)"})
    criteria: str | None = field(default=None, metadata={"help": "criteria text for records that give none"})
    timeout: float | None = field(default=None, metadata={"help": "seconds per request (default 600)"})
    max_retries: int | None = field(default=None, metadata={
        "help": "retries after the first try: connection errors, 502, 503 (default 5)"})
    backoff: float | None = field(default=None, metadata={
        "help": "first wait between retries in seconds, doubling (default 0.5)"})
    max_backoff: float | None = field(default=None, metadata={
        "help": "longest wait between retries in seconds (default 10)"})
    max_records_per_request: int | None = field(default=None, metadata={
        "help": "records per request, at most; the server's own limit when lower (default 64)"})
    max_concurrency: int | None = field(default=None, metadata={"help": "requests in flight at a time (default 4)"})


class RemoteRewardModel(BaseRewardModel):
    kind = "remote"
    shares_passes = False  # the service batches across requests; the client is thread-safe

    def __init__(self, client: Client, criteria: str | None = None):
        self.client, self.criteria = client, criteria
        self.name = client.url
        self._server: dict | None = None

    @property
    def server_info(self) -> dict:
        """What the server says about its model (/health): name, kind (scalar, generative, ...), dimensions."""
        if self._server is None:
            self._server = self.client.health()["model"]
        return self._server

    @property
    def info(self) -> dict:
        server = self.server_info
        # what the served model reads (inputs, reads_prompt) is what this one reads
        reads = {k: server[k] for k in ("inputs", "reads_prompt") if k in server}
        return {"name": self.name, "kind": self.kind, "dimensions": list(server.get("dimensions", [])),
                **reads, "served": server}

    def chunk_size(self, batch_size: int) -> int:
        # the server batches: hand the client big lists (it splits them to the server's limit)
        return max(batch_size, self.client.run(self.client.piece_size()) * self.client.max_concurrency)

    def with_criteria(self, records: list) -> list:
        if self.criteria is None:
            return records
        return [{**r, "criteria": self.criteria} if isinstance(r, dict) and r.get("criteria") is None else r
                for r in records]

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        return self.client.score(self.with_criteria(records), media_root)

    async def ascore(self, records, media_root=None) -> list[dict]:
        return await self.client.ascore(self.with_criteria(list(records)), media_root)


def load_remote(url: str, mode: str | None, options: ClientOptions) -> RemoteRewardModel:
    """The loader of http:// and https:// names."""
    client = options.given()
    criteria = client.pop("criteria", None)
    model = RemoteRewardModel(Client(url, **client), criteria)
    served = model.server_info.get("kind")
    if mode is not None and served != mode:
        raise ConfigError(f"{url} serves a {served} model, not {mode}")
    return model


FAMILY = Family(
    name="remote", title="remote model (mmreward serve)", loader="mmreward.serve.remote:load_remote",
    options=ClientOptions, prefixes=("http://", "https://"),
    catalog=({"name": "http://HOST:PORT", "backbone": "the served model's", "kind": "remote: a running mmreward serve",
              "outputs": "the served model's", "needs": "extra [serve] (httpx); the service's URL and key",
              "use": "mmreward score --model http://127.0.0.1:8000 --input IN --output OUT"},),
)
