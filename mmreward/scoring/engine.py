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
from mmreward.scoring.batching import (NORMALIZER_SHRINK, TEXT_BYTES_PER_TOKEN, TokenBudget, collate, context_length,
                                       count_tokens, default_batch_tokens, max_token_bytes, media_kwargs, render,
                                       text_bytes, token_batches)
from mmreward.scoring.fit import decoded_bytes, image_fit
from mmreward.scoring.loop import score_chunk
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.outputs import scored
from mmreward.scoring.prompts import Prompt, pairwise_question, pointwise_question, scalar_prompt
from mmreward.scoring.rationale import answer_suffixes, clean, generate_rationales
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
    media_bytes: int = 0  # decoded pixels its prompts hold (`fit.decoded_bytes`)


def scalar_plan(item: Item) -> Plan:
    def combine(outs: list[dict]) -> dict:
        dims = [k for k in outs[0] if k != OVERALL]
        return scored([o[OVERALL] for o in outs], {d: [o[d] for o in outs] for d in dims})

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
            return scored(p_yes, p_yes=p_yes, **extra)
        return Plan([pointwise_question(item, c, rationale) for c in cands], pointwise)

    prompts = [pairwise_question(item, cands[0], cands[1], rationale)]
    if config.both_orders:
        prompts.append(pairwise_question(item, cands[1], cands[0], rationale))

    def combine(outs):
        p_yes, extra = _p_yes(outs)
        # P(A better) asked both ways; averaging cancels a constant preference for a position.
        # Written as 0.5 + half the difference so that equal answers give exactly 0.5 each (a tie)
        p_a = p_yes[0] if len(p_yes) == 1 else 0.5 + (p_yes[0] - p_yes[1]) / 2
        return scored([p_a, 1.0 - p_a], p_yes=p_yes, **extra)

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
    def __init__(self, module, processor, config: RewardConfig, budget: TokenBudget | None = None,
                 engine=None):
        """`engine`: None runs every pass on `module` (transformers); an `mmreward.engines.Engine`
        (vLLM) generates the rationales and reads P(yes) in generative mode."""
        self.module, self.processor, self.config = module, processor, config
        self.engine = engine
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
        if self.engine is not None:
            return self.run_on_engine(prompts, texts)
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

    def run_on_engine(self, prompts: list[Prompt], texts: list[str] | None = None) -> list:
        """Generative mode on an engine: the rationales generated (greedy), then P(yes) from the
        engine's log-probabilities of the yes / no tokens after the prompt (+ rationale + cue),
        renormalised over the two and divided by the calibrated temperature, as `forward` does."""
        from mmreward.engines import Request, Sampling

        texts = list(texts) if texts is not None else [render(self.processor, p) for p in prompts]
        requests = [Request(t, media_kwargs([p])) for p, t in zip(prompts, texts)]
        rationales = None
        if self.config.rationale_tokens:
            done = self.engine.generate(requests, Sampling(max_new_tokens=self.config.rationale_tokens))
            rationales = [clean(c.text) for c in done]
            requests = [Request(r.text + s, r.media) for r, s in zip(requests, answer_suffixes(rationales))]
        logprobs = torch.tensor(self.engine.choice_logprobs(requests, [self.module.yes_id, self.module.no_id]))
        p_yes = (logprobs / (self.config.temperature or 1.0)).softmax(dim=-1)[:, 0].tolist()
        if rationales is None:
            return p_yes
        return [{"p_yes": p, "rationale": r} for p, r in zip(p_yes, rationales)]

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

    def token_batches(self, batch_size: int):
        """The batching policy: the chunk's prompts sorted by length and packed under the
        padded-token budget (`batching.token_batches`), counted in `stats`."""
        def batches(items: list) -> list[list[int]]:
            lengths = [plan.lengths[j] for plan, j in items]
            packed = token_batches(lengths, batch_size, self.batch_tokens())
            for batch in packed:
                self.stats["batches"] += 1
                self.stats["prompts"] += len(batch)
                self.stats["tokens"] += sum(lengths[k] for k in batch)
                self.stats["padded_tokens"] += len(batch) * max(lengths[k] for k in batch)
            return packed

        return batches

    def score_chunk(self, records: list, opts: MediaOptions, batch_size: int) -> list[dict]:
        """The records' output dicts through the chunk loop (`mmreward.scoring.loop`): every
        candidate prompt counted in tokens first, then token-budgeted batches; a failed prompt
        fails its record, and the first prompts all failing stop the run (`_failed`). Records are
        decoded one by one, each image at once brought to the size the model uses; once the
        decoded media held pass `CHUNK_MEDIA_BYTES`, the records so far are scored and released."""
        if opts.image_fit is None:
            opts = replace(opts, image_fit=self.fit)

        def prepare(rec) -> list[tuple[Plan, int]]:
            item = load_item(rec, opts)
            plan = self.measure(self.plan(item))
            plan.media_bytes = decoded_bytes(item)  # its media live on in the plan's prompts only
            return [(plan, j) for j in range(len(plan.prompts))]

        def run(items: list[tuple[Plan, int]]) -> list:
            results = self.run([plan.prompts[j] for plan, j in items], [plan.texts[j] for plan, j in items])
            self._successes += len(items)
            return results

        def on_failure(exc, item, oom):
            plan, j = item
            return self._failed(exc, plan.lengths[j], oom)

        def finish(rec, items, outs) -> dict:
            return items[0][0].combine(outs)

        return score_chunk(records, prepare, run, finish, self.token_batches(batch_size), on_failure,
                           item_noun="prompt", held_bytes=lambda items: items[0][0].media_bytes if items else 0,
                           max_held_bytes=CHUNK_MEDIA_BYTES)
