"""Run the probe battery on any `BaseRewardModel` over the user's records.

1. Every record is checked and its media decoded (paths resolved under the media root); the
   model scores them (the baseline: its own judgement of each record).
2. Each probe that applies to the model builds its cases from the usable records and the
   baseline (which candidate lost, which won), with the perturbed media in memory, and the
   model scores the cases' records in one batched call.
3. Each case becomes a flip (or not) and a reward shift (`probe.stats.outcome`); the probe's
   flip rate and mean shift get cluster-bootstrap confidence intervals, overall, per variant
   (e.g. per master key) and per named dimension.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass

from tqdm.auto import tqdm

from mmreward.errors import ConfigError, MediaError, RecordError
from mmreward.probe import image, order, prompt, text, typographic, video
from mmreward.probe.context import ProbeContext
from mmreward.probe.media import MediaStore
from mmreward.probe.spec import Probe, flip_rule
from mmreward.probe.stats import outcome, summarise
from mmreward.scoring.records import check_record

ALL_PROBES: list[Probe] = [*order.PROBES, *text.PROBES, *image.PROBES, *typographic.PROBES,
                           *prompt.PROBES, *video.PROBES]
NEEDS = {"pair": "no record has exactly two candidates", "text": "no record has a text candidate",
         "image": "no record has images", "video": "no record has candidate videos",
         "any": "no usable record"}
HAS = {"pair": lambda r: len(r["candidates"]) == 2,
       "text": lambda r: any(isinstance(c.get("text"), str) for c in r["candidates"]),
       "image": lambda r: bool(r.get("images")) or any(c.get("images") for c in r["candidates"]),
       "video": lambda r: any(c.get("videos") for c in r["candidates"]),
       "any": lambda r: True}


@dataclass
class ProbeOptions:
    probes: list[str] | None = None  # probe names or families; None: all
    seed: int = 0
    n_bootstrap: int = 1000
    batch_size: int = 8
    video_frames: int | None = None  # frames per clip the video probes rebuild (default: the model's, else 8)
    tie_tolerance: float | None = None  # default: 1e-3 x the spread of the baseline rewards
    flag_threshold: float = 0.2  # flag a probe whose flip-rate CI lies above this
    max_records: int | None = None
    progress: bool = False


def select(names: list[str] | None) -> list[Probe]:
    if not names:
        return list(ALL_PROBES)
    known = {p.name for p in ALL_PROBES} | {p.family for p in ALL_PROBES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown probe {unknown[0]!r}; probes: {', '.join(p.name for p in ALL_PROBES)}; "
                          f"families: {', '.join(sorted({p.family for p in ALL_PROBES}))}")
    return [p for p in ALL_PROBES if p.name in names or p.family in names]


def _key(record: dict) -> str:
    """Identifies a record to score once: media objects by identity (the store hands out one
    object per perturbed medium), everything else by value."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, default=lambda o: f"{type(o).__name__}@{id(o)}")


def _baseline(model, records: list, store: MediaStore, opts: ProbeOptions):
    materialised, errors = [], []
    for i, rec in enumerate(records):
        try:
            if isinstance(rec, RecordError):  # a line that was not JSON (score_file.read_records)
                raise rec
            check_record(rec)
            materialised.append(store.materialise(rec))
        except RecordError as exc:
            materialised.append(None)
            errors.append({"record": i, "id": rec.get("id") if isinstance(rec, dict) else None, "error": str(exc)})
    ok = [i for i, m in enumerate(materialised) if m is not None]
    outs = model.score([materialised[i] for i in ok], media_root=None, batch_size=opts.batch_size)
    baseline: list[dict | None] = [None] * len(records)
    for i, out in zip(ok, outs):
        if "error" in out:
            materialised[i] = None
            errors.append({"record": i, "id": out.get("id"), "error": out["error"]})
        else:
            baseline[i] = out
    return materialised, baseline, sorted(errors, key=lambda e: e["record"])


def _spread(baseline: list[dict | None]) -> float:
    values = [r for out in baseline if out for r in out["rewards"]]
    sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    return sd if sd > 0 and math.isfinite(sd) else 1.0


def run_probes(model, records, media_root=None, options: ProbeOptions | None = None) -> dict:
    """Run the battery; returns the report (what `probe.report.write` saves)."""
    opts = options or ProbeOptions()
    probes = select(opts.probes)
    records = list(records)[: opts.max_records] if opts.max_records else list(records)
    info = dict(model.info)
    frames = opts.video_frames or info.get("video_frames") or 8
    store = MediaStore(media_root, video_frames=frames)
    materialised, baseline, errors = _baseline(model, records, store, opts)
    spread = _spread(baseline)
    tol = opts.tie_tolerance if opts.tie_tolerance is not None else 1e-3 * spread
    ctx = ProbeContext(materialised, baseline, store, info, opts.seed, originals=records, errors=errors)
    results = []
    for probe in tqdm(probes, desc="probes", disable=not opts.progress):
        results.append(run_probe(model, probe, ctx, opts, tol, spread))
    return {"model": info, "records": {"given": len(records), "usable": sum(b is not None for b in baseline),
                                       "errors": errors},
            "reward_sd": spread, "tie_tolerance": tol, "seed": opts.seed, "n_bootstrap": opts.n_bootstrap,
            "flag_threshold": opts.flag_threshold, "probes": results}


def run_probe(model, probe: Probe, ctx: ProbeContext, opts: ProbeOptions, tol: float, spread: float) -> dict:
    head = {"probe": probe.name, "family": probe.family, "expect": probe.expect,
            "description": probe.description, "flip_rule": flip_rule(probe.expect)}
    reason = probe.not_applicable(ctx.info)
    if reason:
        return {**head, "status": "not_applicable", "reason": reason}
    cases, build_errors = [], []
    for i in range(len(ctx.records)):
        if not ctx.usable(i):
            continue
        try:
            cases.extend(probe.make(ctx, i))
        except MediaError as exc:
            build_errors.append(f"record {i}: {exc}")
    if not cases:
        return {**head, "status": "not_applicable", "reason": build_errors[0] if build_errors else _why(probe, ctx)}
    requests = {}
    for case in cases:
        for rec in (case.before, case.after):
            if rec is not None:
                requests.setdefault(_key(rec), rec)
    keys = list(requests)
    outs = dict(zip(keys, model.score([requests[k] for k in keys], media_root=None, batch_size=opts.batch_size)))
    return {**head, **measure(probe, ctx, cases, outs, build_errors, opts, tol, spread)}


def _why(probe: Probe, ctx: ProbeContext) -> str:
    """No case: no record fits, or the ones that fit could not be scored (say why)."""
    fits = [i for i, rec in enumerate(ctx.originals) if isinstance(rec, dict) and _fits(probe, rec)]
    failed = [i for i in fits if not ctx.usable(i)]
    if fits and len(failed) == len(fits):
        err = next((e["error"] for e in ctx.errors if e["record"] == failed[0]), "unusable")
        return f"{NEEDS[probe.needs].replace('no record has', 'the records with')} could not be scored " \
               f"(record {failed[0]}: {err})"
    return NEEDS[probe.needs]


def _fits(probe: Probe, rec: dict) -> bool:
    try:
        return HAS[probe.needs](rec)
    except (KeyError, TypeError, AttributeError):
        return False


def measure(probe, ctx, cases, outs, errors, opts, tol, spread) -> dict:
    rows = []  # (case, flip, shift, {dim: (flip, shift)})
    for case in cases:
        before = ctx.baseline[case.record] if case.before is None else outs[_key(case.before)]
        after = outs[_key(case.after)]
        failed = next((o for o in (before, after) if "error" in o), None)
        if failed is not None:
            errors.append(f"record {case.record}: {failed['error']}")
            continue
        flip, shift = outcome(probe.expect, before["rewards"], after["rewards"], case.target, case.mapping, tol)
        dims = {d: outcome(probe.expect, before["dimensions"][d], after["dimensions"][d], case.target,
                           case.mapping, tol)
                for d in before.get("dimensions", {}) if d in after.get("dimensions", {})}
        rows.append((case, flip, shift, dims))
    if not rows:
        return {"status": "failed", "reason": errors[0] if errors else "nothing was scored", "errors": len(errors)}

    def stats(selected, pick=lambda r: (r[1], r[2])):
        pairs = [pick(r) for r in selected]
        return summarise([p[0] for p in pairs], [p[1] for p in pairs], [r[0].record for r in selected],
                         opts.n_bootstrap, opts.seed, spread)

    result = {"status": "ok", **stats(rows), "errors": len(errors)}
    if errors:
        result["first_error"] = errors[0]
    ci = result["flip_ci"]
    result["flagged"] = bool(ci is not None and ci[0] > opts.flag_threshold)
    if probe.variants:
        result["by_variant"] = {v: stats([r for r in rows if r[0].variant == v]) for v in probe.variants
                                if any(r[0].variant == v for r in rows)}
    dim_names = sorted({d for r in rows for d in r[3]})
    if dim_names:
        result["dimensions"] = {d: stats([r for r in rows if d in r[3]], lambda r, d=d: r[3][d])
                                for d in dim_names}
    return result
