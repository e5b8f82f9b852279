"""The chunk loop every reward model scores with: prepare -> batches -> isolated runs -> finish.

`score_chunk(records, prepare, run, finish, batches)`: each record is prepared into the items
the model runs on (prompts, questions, images; a `RecordError` there is that record's error
line), all items of the chunk are grouped into batches by the batching policy (`fixed_batches`:
in order, N at a time; the Qwen-VL engine: token budgets, `batching.token_batches`; an engine
with its own batching: one batch of everything), each batch runs through `run_isolated`, and
`finish` turns a record's outputs into its output dict (`mmreward.scoring.outputs`).

The isolation rule (docs/architecture.md, "Errors") for every reward model's batches:
- out of memory: the batch is split in halves and retried, down to one item;
- `ValueError` or `RecordError` (the processor or the model refusing an input): the items
  are run one by one, so only the culprits fail;
- anything else is a bug and propagates (a traceback, not thousands of error lines).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Callable

from mmreward.errors import ModelInputError, RecordError
from mmreward.scoring.outputs import error_output


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA/XPU OOM, Python's MemoryError, and the CPU/MPS allocators' RuntimeErrors."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def refusal(exc: BaseException, oom: bool) -> RecordError:
    """What a lone failing item gets in place of its output."""
    if isinstance(exc, RecordError):
        return exc
    if oom:
        return ModelInputError("out of memory on this item alone")
    return ModelInputError(f"the model refuses this input: {exc}")


def run_isolated(run: Callable[[list], list], items: list,
                 on_failure: Callable[[BaseException, Any, bool], BaseException] | None = None) -> list:
    """`run(items)`, with an exception (from `on_failure(exc, item, oom)`, default `refusal`) in
    place of each item the model cannot take; a bug propagates."""
    try:
        return run(items)
    except Exception as exc:  # noqa: BLE001 - classified here; what is not an input failure re-raises
        oom = is_out_of_memory(exc)
        if not oom and not isinstance(exc, (ValueError, RecordError)):
            raise
        if oom:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        if len(items) == 1:
            return [on_failure(exc, items[0], oom) if on_failure else refusal(exc, oom)]
        half = len(items) // 2
        parts = [items[:half], items[half:]] if oom else [[item] for item in items]
        return [out for part in parts for out in run_isolated(run, part, on_failure)]


def fixed_batches(size: int) -> Callable[[list], list[range]]:
    """The batching policy of models without a token budget: the items in order, `size` at a time."""
    def batches(items: list) -> list[range]:
        return [range(start, min(start + size, len(items))) for start in range(0, len(items), size)]

    return batches


def score_chunk(records: list, prepare: Callable[[Any], list], run: Callable[[list], list],
                finish: Callable[[dict, list, list], dict], batches: Callable[[list], Iterable[Sequence[int]]],
                on_failure: Callable[[BaseException, Any, bool], BaseException] | None = None,
                item_noun: str = "item", held_bytes: Callable[[list], int] | None = None,
                max_held_bytes: int = 0) -> list[dict]:
    """One output dict per record, in order.

    `prepare(record)` -> the record's items (a RecordError, or a MemoryError while decoding its
    media, -> its error line); `batches(items)` -> index lists into all the chunk's items (the
    batching policy); `run(items)` -> one output per item, isolated (`run_isolated`, with
    `on_failure`); `finish(record, items, outputs)` -> the record's output dict without its id (a
    RecordError there is its error line too). A model failure names the record's item
    (`item_noun` N) it happened on. `held_bytes(items)`: the decoded media a record's items hold;
    once the records prepared so far hold more than `max_held_bytes`, they are scored (and
    released) before the next record is prepared, so a chunk's media are bounded in memory."""
    outputs: list[dict | None] = [None] * len(records)
    plans: list[tuple[int, list]] = []
    held = 0
    for i, rec in enumerate(records):
        rid = rec.get("id") if isinstance(rec, dict) else None
        try:
            plans.append((i, prepare(rec)))
            held += held_bytes(plans[-1][1]) if held_bytes else 0
        except RecordError as exc:
            outputs[i] = error_output(rid, exc)
        except MemoryError:  # its media alone do not fit
            outputs[i] = error_output(rid, ModelInputError("out of memory while decoding its media"))
        if held_bytes and held > max_held_bytes:
            _score_plans(plans, records, outputs, run, finish, batches, on_failure, item_noun)
            plans, held = [], 0
    _score_plans(plans, records, outputs, run, finish, batches, on_failure, item_noun)
    return outputs


def _score_plans(plans: list[tuple[int, list]], records: list, outputs: list, run, finish, batches, on_failure,
                 item_noun: str) -> None:
    """Run the items of `plans` in the policy's batches; each record's output dict into `outputs`."""
    flat = [item for _, items in plans for item in items]
    results: list[Any] = [None] * len(flat)
    for batch in batches(flat):
        batch = list(batch)
        for k, out in zip(batch, run_isolated(run, [flat[k] for k in batch], on_failure)):
            results[k] = out
    cursor = 0
    for i, items in plans:
        outs = results[cursor:cursor + len(items)]
        cursor += len(items)
        rid = records[i].get("id")
        failed = next(((j, o) for j, o in enumerate(outs) if isinstance(o, Exception)), None)
        try:
            if failed is not None:
                j, exc = failed
                raise ModelInputError(f"{item_noun} {j}: {exc}") if isinstance(exc, ModelInputError) else exc
            outputs[i] = {"id": rid, **finish(records[i], items, outs)}
        except RecordError as exc:
            outputs[i] = error_output(rid, exc)
