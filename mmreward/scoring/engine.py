"""From records to reward dicts: plan prompts per record, run them in padded batches, combine.

Records are processed in chunks so memory stays bounded on large files; within
a chunk every candidate prompt of every record shares batches. A record whose
media fail to load, or whose prompts make the model fail, becomes an error
output and costs nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch

from mmreward.scoring.batching import collate
from mmreward.models.config import RewardConfig
from mmreward.models.head import OVERALL
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import Prompt, pairwise_question, pointwise_question, scalar_prompt
from mmreward.scoring.rationale import answer_suffixes, generate_rationales
from mmreward.scoring.records import Item, RecordError, load_item


@dataclass
class Plan:
    """The prompts one record needs and how their outputs become its output dict."""

    prompts: list[Prompt]
    combine: Callable[[list[Any]], dict]


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
    def __init__(self, module, processor, config: RewardConfig):
        self.module, self.processor, self.config = module, processor, config

    def plan(self, item: Item) -> Plan:
        if item.criteria is None and self.config.criteria:
            item = replace(item, criteria=self.config.criteria)  # the record's own criteria win
        if self.config.mode == "scalar":
            return scalar_plan(item)
        return generative_plan(item, self.config)

    @torch.inference_mode()
    def run(self, prompts: list[Prompt]) -> list:
        if self.config.mode == "generative" and self.config.rationale_tokens:
            return self.run_with_rationale(prompts)
        batch = collate(self.processor, prompts, device=self.module.device)
        return self.config.normalize(_rows(self.module(**batch)))

    def run_with_rationale(self, prompts: list[Prompt]) -> list[dict]:
        rationales = generate_rationales(self.module.backbone, self.processor, prompts,
                                         self.config.rationale_tokens)
        batch = collate(self.processor, prompts, device=self.module.device,
                        extra_text=answer_suffixes(rationales))
        p_yes = _rows(self.module(**batch))
        return [{"p_yes": p, "rationale": r} for p, r in zip(p_yes, rationales)]

    def run_isolated(self, prompts: list[Prompt]) -> list:
        """Run a batch; if it fails, run its prompts one by one so only the culprits fail."""
        try:
            return self.run(prompts)
        except Exception:  # noqa: BLE001 - any model failure is reported per prompt below
            results = []
            for p in prompts:
                try:
                    results.extend(self.run([p]))
                except Exception as exc:  # noqa: BLE001
                    results.append(RuntimeError(f"model failed: {type(exc).__name__}: {exc}"))
            return results

    def score_chunk(self, records: list, opts: MediaOptions, batch_size: int) -> list[dict]:
        outputs: list[dict | None] = [None] * len(records)
        plans: list[tuple[int, Plan]] = []
        for i, rec in enumerate(records):
            rid = rec.get("id") if isinstance(rec, dict) else None
            try:
                plans.append((i, self.plan(load_item(rec, opts))))
            except RecordError as exc:
                outputs[i] = {"id": rid, "error": str(exc)}
        flat = [(i, p) for i, plan in plans for p in plan.prompts]
        results = []
        for start in range(0, len(flat), batch_size):
            results.extend(self.run_isolated([p for _, p in flat[start:start + batch_size]]))
        cursor = 0
        for i, plan in plans:
            outs = results[cursor:cursor + len(plan.prompts)]
            cursor += len(plan.prompts)
            rid = records[i].get("id")
            failed = [j for j, o in enumerate(outs) if isinstance(o, Exception)]
            if failed:
                outputs[i] = {"id": rid, "error": f"prompt {failed[0]}: {outs[failed[0]]}"}
            else:
                outputs[i] = {"id": rid, **plan.combine(outs)}
        return outputs
