"""`mmreward.load("http://HOST:PORT")`: a `BaseRewardModel` whose scoring happens in `mmreward serve`.

So everything that takes a reward model (the `score` command, combined rewards, probes, the
RL adapters) can use a service instead. The model, its mode and its judging options are the
server's; a client can only fill in `criteria` for records that give none.
"""
from __future__ import annotations

from mmreward.errors import ConfigError
from mmreward.scoring.base import BaseRewardModel
from mmreward.serve.client import Client

#: mmreward.load options a remote model accepts (the rest are the server's to choose)
CLIENT_OPTIONS = ("api_key", "timeout", "max_retries", "backoff", "max_backoff", "max_records_per_request",
                  "max_concurrency")


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


def load_remote(url: str, mode: str | None = None, *, criteria: str | None = None, **options) -> RemoteRewardModel:
    """The registry's loader for http:// and https:// names."""
    server_side = sorted(set(options) - set(CLIENT_OPTIONS))
    if server_side:
        raise ConfigError(f"{url}: {', '.join(server_side)} are chosen by the server (mmreward serve "
                          f"options), not by a client")
    model = RemoteRewardModel(Client(url, **options), criteria)
    served = model.server_info.get("kind")
    if mode is not None and served != mode:
        raise ConfigError(f"{url} serves a {served} model, not {mode}")
    return model
