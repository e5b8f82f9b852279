"""From records to reward dicts: plan prompts per record, run them in token-budgeted batches, combine.

Records are processed in chunks so memory stays bounded on large files. Within a chunk
every candidate prompt of every record is counted in tokens first (`batching.count_tokens`);
a prompt over the model's context or `max_prompt_tokens` makes its record an error line
before any forward pass, and the rest are packed shortest first under the padded-token
budget, so padding stays small; outputs keep the input order.

Failures (docs/architecture.md, "Errors"): a record whose media fail to load, or that the
model cannot take (out of memory on it alone, the processor or model refusing it with a
ValueError), becomes an error output and costs nothing else; anything else is a bug and
propagates. A model that fails on every one of the first prompts it runs is not failing on
its inputs, so that stops the run too.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from mmreward.errors import ConfigError, ModelInputError
from mmreward.models.config import RewardConfig
from mmreward.models.head import OVERALL
from mmreward.scoring.base import error_output
from mmreward.scoring.batching import (NORMALIZER_SHRINK, TEXT_BYTES_PER_TOKEN, TokenBudget, collate, context_length,
                                       count_tokens, default_batch_tokens, max_token_bytes, render, text_bytes,
                                       token_batches)
from mmreward.scoring.fit import decoded_bytes, image_fit
from mmreward.scoring.isolation import run_isolated
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import Prompt, pairwise_question, pointwise_question, scalar_prompt
from mmreward.scoring.rationale import answer_suffixes, generate_rationales
from mmreward.scoring.records import Item, RecordError, load_item

FAILFAST_PROMPTS = 8  # this many failed prompts without one success: the model is broken, not the inputs
#: decoded pixels (images at the model's size, sampled video frames) a chunk holds before its records
#: so far are scored: bounds a chunk's memory whatever its media (32 records x 2 images at
#: Qwen2.5-VL's default bound of 12.8 MP would be 2.4 GB)
CHUNK_MEDIA_BYTES = 512 * 2**20


@dataclass
class Plan:
    """The prompts one record needs and how their outputs become its output dict."""

    prompts: list[Prompt]
    combine: Callable[[list[Any]], dict]
    texts: list[str] = field(default_factory=list)  # rendered prompts
    lengths: list[int] = field(default_factory=list)  # their token counts


def _preferred(rewards: list[float]) -> int:
    return max(range(len(rewards)), key=lambda i: rewards[i])


def scalar_plan(item: Item) -> Plan:
    def combine(outs: list[dict]) -> dict:
        rewards = [o[OVERALL] for o in outs]
        result = {"rewards": rewards, "preferred": _preferred(rewards)}
        dims = [k for k in outs[0] if k != OVERALL]
        if dims:
            result["dimensions"] = {d: [o[d] for o in outs] for d in dims}
        return result

    return Plan([scalar_prompt(item, c) for c in item.candidates], combine)


def generative_plan(item: Item, config: RewardConfig) -> Plan:
    cands = item.candidates
    pairwise = config.form == "pairwise" or (config.form == "auto" and len(cands) == 2)
    if pairwise and len(cands) != 2:
        raise RecordError(f"pairwise judging needs exactly 2 candidates, got {len(cands)}")
    rationale = config.rationale_tokens > 0
    if not pairwise:
        def pointwise(outs):
            p_yes, extra = _p_yes(outs)
            return {"rewards": p_yes, "preferred": _preferred(p_yes), "p_yes": p_yes, **extra}
        return Plan([pointwise_question(item, c, rationale) for c in cands], pointwise)

    prompts = [pairwise_question(item, cands[0], cands[1], rationale)]
    if config.both_orders:
        prompts.append(pairwise_question(item, cands[1], cands[0], rationale))

    def combine(outs):
        p_yes, extra = _p_yes(outs)
        # P(A better) asked both ways; averaging cancels a constant preference for a position
        p_a = p_yes[0] if len(p_yes) == 1 else (p_yes[0] + 1.0 - p_yes[1]) / 2
        rewards = [p_a, 1.0 - p_a]
        return {"rewards": rewards, "preferred": _preferred(rewards), "p_yes": p_yes, **extra}

    return Plan(prompts, combine)


def _p_yes(outs: list) -> tuple[list[float], dict]:
    """Per-prompt outputs -> (P(yes) list, {"rationales": [...]} when the model reasoned first)."""
    if outs and isinstance(outs[0], dict):
        return [o["p_yes"] for o in outs], {"rationales": [o["rationale"] for o in outs]}
    return list(outs), {}


def _rows(output) -> list:
    """Model output for a batch -> one python value per row."""
    if isinstance(output, dict):
        cols = {k: v.detach().float().cpu().tolist() for k, v in output.items()}
        return [dict(zip(cols, vals)) for vals in zip(*cols.values())]
    return output.detach().float().cpu().tolist()


class Scorer:
    def __init__(self, module, processor, config: RewardConfig, budget: TokenBudget | None = None):
        self.module, self.processor, self.config = module, processor, config
        self.budget = budget or TokenBudget()
        self.fit = image_fit(processor)  # images decoded at the size the processor brings them to
        self._token_bytes: int | None = None  # most bytes of text one token covers (after normalising)
        self.stats = {"prompts": 0, "tokens": 0, "padded_tokens": 0, "batches": 0}
        self._successes = self._failures = 0

    def plan(self, item: Item) -> Plan:
        if item.criteria is None and self.config.criteria:
            item = replace(item, criteria=self.config.criteria)  # the record's own criteria win
        if self.config.mode == "scalar":
            return scalar_plan(item)
        return generative_plan(item, self.config)

    # ---------------------------------------------------------------- lengths

    def prompt_limit(self) -> tuple[int | None, str]:
        context = context_length(getattr(self.module, "backbone", self.module))
        cap = self.budget.max_prompt_tokens
        if cap is not None and (context is None or cap < context):
            return cap, f"the --max-prompt-tokens cap of {cap:,}"
        return context, f"the model's context of {context:,}" if context else "no limit"

    def check_text_size(self, j: int, prompt: Prompt, limit: int | None, what: str) -> None:
        """Refuse a prompt whose text alone is over the limit, from its size, before it is tokenized
        (tokenizing 30 MB of text took 6 GB): its bytes over the most a token covers prove it over;
        past TEXT_BYTES_PER_TOKEN bytes a token it is capped."""
        if limit is None:
            return
        size = text_bytes(prompt)
        if self._token_bytes is None:
            self._token_bytes = max_token_bytes(self.processor.tokenizer) * NORMALIZER_SHRINK
        if size // self._token_bytes > limit:
            raise RecordError(f"prompt {j} has {size:,} bytes of text, so at least {size // self._token_bytes:,} "
                              f"tokens: over {what} tokens (refused without tokenizing it)")
        if size > limit * TEXT_BYTES_PER_TOKEN:
            raise RecordError(f"prompt {j} has {size:,} bytes of text, over the cap of {limit * TEXT_BYTES_PER_TOKEN:,} "
                              f"({TEXT_BYTES_PER_TOKEN} bytes a token of {what} tokens; refused without tokenizing it)")

    def measure(self, plan: Plan) -> Plan:
        """Token counts of the plan's prompts; RecordError for one over the limit or refused."""
        extra = self.config.rationale_tokens if self.config.mode == "generative" else 0
        limit, what = self.prompt_limit()
        for j, prompt in enumerate(plan.prompts):
            self.check_text_size(j, prompt, limit, what)
            text = render(self.processor, prompt)
            try:
                n = count_tokens(self.processor, prompt, text) + extra
            except ValueError as exc:  # the processor's own checks (e.g. aspect ratio over 200)
                raise ModelInputError(f"prompt {j}: the processor refuses it: {exc}") from None
            if limit is not None and n > limit:
                raise RecordError(f"prompt {j} has {n:,} tokens, over {what} tokens")
            plan.texts.append(text)
            plan.lengths.append(n)
        return plan

    def batch_tokens(self) -> int:
        if self.budget.max_batch_tokens is None:
            self.budget = replace(self.budget, max_batch_tokens=default_batch_tokens(self.module))
        return self.budget.max_batch_tokens

    # ---------------------------------------------------------------- forward passes

    @torch.inference_mode()
    def run(self, prompts: list[Prompt], texts: list[str] | None = None) -> list:
        if self.config.mode == "generative" and self.config.rationale_tokens:
            return self.run_with_rationale(prompts, texts)
        batch = collate(self.processor, prompts, device=self.module.device, texts=texts)
        return self.config.normalize(_rows(self.module(**batch)))

    def run_with_rationale(self, prompts: list[Prompt], texts: list[str] | None = None) -> list[dict]:
        rationales = generate_rationales(self.module.backbone, self.processor, prompts,
                                         self.config.rationale_tokens)
        batch = collate(self.processor, prompts, device=self.module.device,
                        extra_text=answer_suffixes(rationales), texts=texts)
        p_yes = _rows(self.module(**batch))
        return [{"p_yes": p, "rationale": r} for p, r in zip(p_yes, rationales)]

    def run_safely(self, prompts: list[Prompt], texts: list[str], lengths: list[int]) -> list:
        """Outputs of a batch, a ModelInputError in place of each prompt the model cannot take
        (the rule of `mmreward.scoring.isolation`: out of memory splits, a refusal isolates, a bug
        propagates)."""
        def run(items):
            results = self.run([p for p, _, _ in items], [t for _, t, _ in items])
            self._successes += len(items)
            return results

        return run_isolated(run, list(zip(prompts, texts, lengths)),
                            on_failure=lambda exc, item, oom: self._failed(exc, item[2], oom))

    def _failed(self, exc: BaseException, n_tokens: int, oom: bool) -> ModelInputError:
        self._failures += 1
        if self._successes == 0 and self._failures >= FAILFAST_PROMPTS:
            if oom:
                raise ConfigError(
                    f"out of memory on each of the first {self._failures} prompts, even one at a time: "
                    "lower --max-pixels / --video-max-pixels or --max-prompt-tokens, or use a larger "
                    "device") from exc
            raise RuntimeError(
                f"the model failed on each of the first {self._failures} prompts it ran: that is a bug "
                "or a broken model, not bad inputs") from exc
        if oom:
            return ModelInputError(f"out of memory on this prompt alone ({n_tokens:,} tokens)")
        return ModelInputError(f"the model refuses this input: {exc}")

    # ---------------------------------------------------------------- records

    def score_chunk(self, records: list, opts: MediaOptions, batch_size: int) -> list[dict]:
        """Records are decoded one by one (each image at once brought to the size the model uses);
        once the decoded media held pass `CHUNK_MEDIA_BYTES`, the records gathered so far are
        scored and released before the next is decoded."""
        if opts.image_fit is None:
            opts = replace(opts, image_fit=self.fit)
        outputs: list[dict | None] = [None] * len(records)
        plans: list[tuple[int, Plan]] = []
        held = 0
        for i, rec in enumerate(records):
            rid = rec.get("id") if isinstance(rec, dict) else None
            try:
                item = load_item(rec, opts)
                held += decoded_bytes(item)
                plans.append((i, self.measure(self.plan(item))))
                del item  # its media live on in the plan's prompts only
            except RecordError as exc:
                outputs[i] = error_output(rid, exc)
            except MemoryError:  # its media alone do not fit
                outputs[i] = error_output(rid, ModelInputError("out of memory while decoding its media"))
            if held > CHUNK_MEDIA_BYTES:
                self.score_plans(plans, records, outputs, batch_size)
                plans, held = [], 0
        self.score_plans(plans, records, outputs, batch_size)
        return outputs

    def score_plans(self, plans: list[tuple[int, Plan]], records: list, outputs: list, batch_size: int) -> None:
        """Run the prompts of `plans` in token-budgeted batches; each record's output into `outputs`."""
        flat = [(plan, j) for _, plan in plans for j in range(len(plan.prompts))]
        lengths = [plan.lengths[j] for plan, j in flat]
        results: list = [None] * len(flat)
        for batch in token_batches(lengths, batch_size, self.batch_tokens()):
            prompts = [flat[k][0].prompts[flat[k][1]] for k in batch]
            texts = [flat[k][0].texts[flat[k][1]] for k in batch]
            for k, out in zip(batch, self.run_safely(prompts, texts, [lengths[k] for k in batch])):
                results[k] = out
            self.stats["batches"] += 1
            self.stats["prompts"] += len(batch)
            self.stats["tokens"] += sum(lengths[k] for k in batch)
            self.stats["padded_tokens"] += len(batch) * max(lengths[k] for k in batch)
        cursor = 0
        for i, plan in plans:
            outs = results[cursor:cursor + len(plan.prompts)]
            cursor += len(plan.prompts)
            rid = records[i].get("id")
            failed = [j for j, o in enumerate(outs) if isinstance(o, Exception)]
            if failed:
                outputs[i] = error_output(rid, ModelInputError(f"prompt {failed[0]}: {outs[failed[0]]}"))
            else:
                outputs[i] = {"id": rid, **plan.combine(outs)}
