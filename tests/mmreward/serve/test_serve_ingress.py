"""The ingress's scoring logic with a slow model handle (no Ray): timeouts, cancellation,
queue accounting, pieces of at most max_batch_size records."""
from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("ray.serve")

from mmreward.serve.config import ServeConfig  # noqa: E402
from mmreward.serve.ingress import Ingress  # noqa: E402
from mmreward.serve.protocol import ProtocolError  # noqa: E402


class Call:
    """What `handle.score.remote(piece)` returns: awaitable, cancellable."""

    def __init__(self, piece, delay: float, log: list):
        self.piece, self.delay, self.log, self.cancelled = piece, delay, log, False

    def cancel(self):
        self.cancelled = True

    def __await__(self):
        return self.run().__await__()

    async def run(self):
        await asyncio.sleep(self.delay)
        return {"outputs": [{"id": r["id"], "rewards": [0.5]} for r in self.piece], "replica": "r1",
                "batch": id(self), "size": len(self.piece)}


class Handle:
    def __init__(self, delay: float):
        self.calls: list[Call] = []
        outer = self

        class Method:
            def remote(self, piece):
                outer.calls.append(Call(piece, delay, outer.calls))
                return outer.calls[-1]

        self.score = Method()


def ingress(delay: float, **settings) -> tuple[Ingress, Handle]:
    handle = Handle(delay)
    cfg = {"max_batch_size": 4, "max_queue": 8, "max_records_per_request": 8, "request_timeout_s": 0.3, **settings}
    return Ingress.func_or_class(handle, vars(ServeConfig(**cfg)), None), handle


def records(n: int) -> list[dict]:
    return [{"id": i, "prompt": "p", "candidates": [{"text": "t"}]} for i in range(n)]


def test_pieces_of_max_batch_size_and_order():
    app, handle = ingress(0.01)
    out = asyncio.run(app.answer(records(7) + [{"id": "bad"}]))
    assert [o["id"] for o in out] == [*range(7), "bad"] and "error" in out[-1]
    assert [len(c.piece) for c in handle.calls] == [4, 3]
    assert app.queued == 0


def test_a_timeout_answers_504_cancels_the_pieces_and_frees_the_queue():
    app, handle = ingress(5.0)
    with pytest.raises(ProtocolError, match="not answered within 0.3 s") as timed_out:
        asyncio.run(app.answer(records(6)))
    assert timed_out.value.status == 504
    assert all(c.cancelled for c in handle.calls) and len(handle.calls) == 2
    assert app.queued == 0 and app.active == 0


def test_the_queue_bound_counts_records_across_requests():
    app, _ = ingress(0.2, request_timeout_s=5)

    async def two():
        first = asyncio.create_task(app.answer(records(6)))
        await asyncio.sleep(0.05)
        with pytest.raises(ProtocolError, match="queue full: 6 records waiting") as full:
            await app.answer(records(3))
        assert full.value.status == 503 and full.value.headers == {"Retry-After": "1"}
        assert len(await app.answer(records(2))) == 2  # 6 + 2 fits
        return await first

    assert len(asyncio.run(two())) == 6
    assert app.queued == 0


@pytest.mark.parametrize("gpus, device, replicas, per_replica, want", [
    (0, None, None, None, (1, {"num_cpus": 1.0, "num_gpus": 0.0})),  # CPU machine: one replica
    (4, None, None, None, (4, {"num_cpus": 1.0, "num_gpus": 1.0})),  # one replica per GPU
    (4, "cpu", 2, None, (2, {"num_cpus": 1.0, "num_gpus": 0.0})),  # --device cpu on a GPU cluster
    (4, None, None, 0.5, (8, {"num_cpus": 1.0, "num_gpus": 0.5})),  # two replicas share a GPU
    (8, None, 3, None, (3, {"num_cpus": 1.0, "num_gpus": 1.0})),
])
def test_replicas_and_their_resources(monkeypatch, gpus, device, replicas, per_replica, want):
    from mmreward.serve import app

    monkeypatch.setattr(app, "cluster_gpus", lambda: float(gpus))
    cfg = ServeConfig(replicas=replicas, gpus_per_replica=per_replica)
    assert app.replica_resources({"name": "tiny", "device": device}, cfg) == want


def test_serve_names_a_missing_checkpoint_before_starting_ray(tmp_path, capsys):
    from mmreward.cli import main

    assert main(["serve", "--model", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmreward serve: ") and "no such checkpoint directory" in err
