"""One loaded model called from many threads and from asyncio: serial results, shared passes."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mmreward.scoring.base import BaseRewardModel

# Rewards of a prompt batched with other callers' prompts vs scored alone: float32 forward passes
# over different (padded) batch shapes sum in a different order, so they agree to a few float32
# ulps of the reward (~1.2e-7 seen), not bit for bit. 1e-6 is the acceptance bound of issue 19.
SERIAL_TOLERANCE = 1e-6


class Recorder(BaseRewardModel):
    """A pure-Python model: reward = len(text); records every chunk it is given."""

    kind = "test"

    def __init__(self, delay: float = 0.0, fail_on: str | None = None):
        self.delay, self.fail_on = delay, fail_on
        self.chunks: list[list] = []
        self.running = 0
        self.overlaps = 0

    def chunk_size(self, batch_size: int) -> int:
        return 4 * batch_size

    def score_chunk(self, records, media_root=None, batch_size=8):
        self.running += 1
        self.overlaps += self.running > 1
        try:
            self.chunks.append([r["id"] for r in records])
            time.sleep(self.delay)
            if self.fail_on and any(r["id"] == self.fail_on for r in records):
                raise KeyError(self.fail_on)
            return [{"id": r["id"], "rewards": [float(len(r["prompt"]))], "preferred": 0} for r in records]
        finally:
            self.running -= 1


def rec(i) -> dict:
    return {"id": i, "prompt": "x" * (i % 7), "candidates": [{"text": "t"}]}


def test_a_lone_caller_gets_its_chunks_as_before():
    model = Recorder()
    out = model.score([rec(i) for i in range(20)], batch_size=2)
    assert [o["id"] for o in out] == list(range(20))
    assert model.chunks == [list(range(0, 8)), list(range(8, 16)), list(range(16, 20))]


def test_concurrent_calls_never_overlap_and_share_chunks():
    model = Recorder(delay=0.02)
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda i: model.score([rec(i)]), range(64)))
    assert [o[0]["id"] for o in outs] == list(range(64))
    assert all(o[0]["rewards"] == [float(i % 7)] for i, o in enumerate(outs))
    assert model.overlaps == 0  # one score_chunk at a time
    assert len(model.chunks) < 64 and max(len(c) for c in model.chunks) > 1  # calls shared chunks
    assert all(len(c) <= model.chunk_size(8) for c in model.chunks)


def test_calls_with_another_media_root_or_batch_size_do_not_share(tmp_path):
    model = Recorder(delay=0.02)
    roots = [None, tmp_path, None, str(tmp_path)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: model.score([rec(i)], media_root=roots[i % 4], batch_size=1 + i % 2), range(32)))
    for chunk in model.chunks:  # ids i share a chunk only with ids of the same root and batch size
        assert len({(str(roots[i % 4]) if roots[i % 4] else None, i % 2) for i in chunk}) == 1


def test_an_exception_reaches_only_the_call_that_raised_it():
    model = Recorder(delay=0.02, fail_on=5)
    barrier = threading.Barrier(8)

    def call(i):
        barrier.wait()
        try:
            return model.score([rec(i)])[0]["id"]
        except KeyError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(call, range(8)))
    assert isinstance(got[5], KeyError) and got[:5] + got[6:] == [0, 1, 2, 3, 4, 6, 7]


def test_a_model_scoring_through_itself_does_not_wait_for_itself():
    class Nested(Recorder):
        def score_chunk(self, records, media_root=None, batch_size=8):
            if len(records) > 1:  # e.g. a fallback that scores records one by one
                return [o for r in records for o in self.score([r])]
            return super().score_chunk(records, media_root, batch_size)

    model = Nested()
    with ThreadPoolExecutor(1) as pool:
        assert [o["id"] for o in pool.submit(model.score, [rec(i) for i in range(3)]).result(timeout=10)] == [0, 1, 2]


def test_asyncio_callers_share_passes_and_keep_the_loop_free():
    model = Recorder(delay=0.02)
    ticks = []

    async def main():
        async def ticker():
            for _ in range(5):
                ticks.append(time.monotonic())
                await asyncio.sleep(0.005)
        results = await asyncio.gather(*(model.ascore([rec(i)]) for i in range(32)), ticker())
        return results[:-1]

    outs = asyncio.run(main())
    assert [o[0]["id"] for o in outs] == list(range(32))
    assert len(model.chunks) < 32 and len(ticks) == 5


def _mixed_records(image_pairs) -> tuple:
    """16 records of different lengths: text-only and with images, pointwise and pairs."""
    root, pairs = image_pairs
    records = []
    for i, p in enumerate(pairs[:8]):
        records.append({"id": f"{i}t", "prompt": p["prompt"] + " now" * i, "candidates": [{"text": "a shape" * (i + 1)}]})
        records.append({"id": f"{i}p", "prompt": p["prompt"], "candidates": p["candidates"]})
    return root, records


@pytest.mark.slow
@pytest.mark.parametrize("calls,threads", [(320, 16)])
def test_320_calls_from_16_threads_on_one_model_equal_serial(scalar_rm, image_pairs, calls, threads):
    """Issue 19's stress case (132 of 320 failed with `Already borrowed` on transformers 5.10)."""
    root, records = _mixed_records(image_pairs)
    serial = {r["id"]: scalar_rm.score([r], media_root=root)[0]["rewards"] for r in records}
    rounds = scalar_rm.passes.stats["rounds"]
    with ThreadPoolExecutor(threads) as pool:
        outs = list(pool.map(lambda k: scalar_rm.score([records[k % len(records)]], media_root=root), range(calls)))
    assert all("error" not in o[0] for o in outs)
    for k, o in enumerate(outs):
        assert o[0]["id"] == records[k % len(records)]["id"]
        assert o[0]["rewards"] == pytest.approx(serial[o[0]["id"]], abs=SERIAL_TOLERANCE)
    assert scalar_rm.passes.stats["rounds"] - rounds < calls  # calls shared chunks (and passes)


@pytest.mark.slow
def test_rationale_judge_from_threads_and_asyncio_equals_serial(image_pairs):
    """Rationale mode generates with left padding: per call, never by changing the shared tokenizer."""
    import mmreward

    judge = mmreward.load("tiny", "generative", device="cpu", rationale_tokens=4)
    root, records = _mixed_records(image_pairs)
    records = records[:6]
    serial = {r["id"]: judge.score([r], media_root=root)[0] for r in records}
    with ThreadPoolExecutor(6) as pool:
        threaded = list(pool.map(lambda r: judge.score([r], media_root=root)[0], records * 2))

    async def gathered():
        return await asyncio.gather(*(judge.ascore([r], media_root=root) for r in records))

    for out in threaded + [o[0] for o in asyncio.run(gathered())]:
        want = serial[out["id"]]
        assert out["rationales"] == want["rationales"]
        assert out["rewards"] == pytest.approx(want["rewards"], abs=SERIAL_TOLERANCE)
    assert judge.processor.tokenizer.padding_side == "right"
