"""The same workloads through the HF engine and the vLLM engine: outputs compared, items/s, ratios.

    python benchmarks/engine_throughput.py [--model tiny-hd64] [--pairs 64] [--prompts 256]
        [--episodes 32] [--grpo-items 4 --group-size 8] [--max-new-tokens 32] [--json]

Workloads (synthetic media, `mmreward.synth`):
  unifiedreward  UnifiedReward pair-rank on --pairs image pairs (HF: one question at a time, as
                 the official scripts; vLLM: a whole chunk at once); greedy texts compared;
  yes-token      P(yes) on --prompts pointwise prompts (one image each); max |P(yes) difference|;
  agent          --episodes greedy 3-turn agent episodes (HF: one after the other with KV reuse;
                 vLLM: all at once, prefix caching); turns compared;
  grpo-rollouts  one GRPO rollout batch: --grpo-items items x --group-size rollouts, sampled
                 (temperature 1): HF `rollout_batch` groups vs vLLM; not comparable token by token
                 (different random streams), so the mean completion length is shown.
One HF model and one vLLM engine serve every workload (on a GPU the engine takes
--gpu-memory-utilization of it beside the HF weights). On CPU use a model vLLM's CPU attention
runs (tiny-hd64); on a GPU `benchmarks/engine_gpu_7b.py` builds a 7B-sized checkpoint for it.
Start-up is printed apart and not in the rates.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass
class Options:
    model: str = field(default="tiny-hd64", metadata={"help": "checkpoint: tiny-hd64, a directory or hub id"})
    pairs: int = field(default=64, metadata={"help": "UnifiedReward pair-rank image pairs"})
    prompts: int = field(default=256, metadata={"help": "yes-token pointwise prompts"})
    episodes: int = field(default=32, metadata={"help": "greedy agent episodes"})
    grpo_items: int = field(default=4, metadata={"help": "items of the GRPO rollout batch"})
    group_size: int = field(default=8, metadata={"help": "rollouts per GRPO item"})
    max_new_tokens: int = field(default=32, metadata={
        "help": "UnifiedReward answer limit (the official 512 makes the CPU run hours long)"})
    agent_tokens: int = field(default=16, metadata={"help": "agent: tokens per turn"})
    image_size: int = field(default=224, metadata={"help": "synthetic image side in pixels"})
    dtype: str | None = field(default=None, metadata={"help": "default: float32 on CPU, bfloat16 on GPU"})
    gpu_memory_utilization: float = field(default=0.6, metadata={"help": "vLLM's share of the GPU"})
    workloads: str = field(default="unifiedreward,yes-token,agent,grpo-rollouts", metadata={
        "help": "comma-separated subset"})
    json: bool = field(default=False, metadata={"help": "print one JSON object"})


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def row(name, n, hf_s, vllm_s, agreement):
    return {"workload": name, "items": n, "hf_s": round(hf_s, 2), "vllm_s": round(vllm_s, 2),
            "hf_items_per_s": round(n / hf_s, 3), "vllm_items_per_s": round(n / vllm_s, 3),
            "speedup": round(hf_s / vllm_s, 2), **agreement}


def unifiedreward(o, backbone, processor, path, engine, root, records):
    from mmreward.presets.unifiedreward import UnifiedReward

    opts = {"max_new_tokens": o.max_new_tokens, "task": "pair-rank"}
    hf = UnifiedReward(backbone, processor, path, "unifiedreward", "unifiedreward", opts)
    vl = UnifiedReward(backbone, processor, path, "unifiedreward", "unifiedreward", opts, engine)
    a, hf_s = timed(lambda: hf.score(records, media_root=root, batch_size=8))
    b, vl_s = timed(lambda: vl.score(records, media_root=root, batch_size=len(records)))
    same = sum(x["judge_text"] == y["judge_text"] for x, y in zip(a, b))
    return row("unifiedreward pair-rank", len(records), hf_s, vl_s,
               {"texts_equal": f"{same}/{len(records)}",
                "verdicts_equal": f"{sum(x['rewards'] == y['rewards'] for x, y in zip(a, b))}/{len(records)}"})


def yes_token(o, backbone, processor, path, engine, root, records):
    from mmreward.qwen_vl import RewardModel, build_module
    from mmreward.models.config import RewardConfig

    config = RewardConfig(mode="generative", form="pointwise")
    module = build_module(backbone, processor, config)
    hf = RewardModel(module, processor, config, path)
    vl = RewardModel(module, processor, config, path, engine=engine)
    a, hf_s = timed(lambda: hf.score(records, media_root=root, batch_size=16))
    b, vl_s = timed(lambda: vl.score(records, media_root=root, batch_size=len(records)))
    gap = max(abs(x["p_yes"][0] - y["p_yes"][0]) for x, y in zip(a, b))
    return row("yes-token pointwise", len(records), hf_s, vl_s, {"max_p_yes_diff": f"{gap:.1e}"})


def agent(o, backbone, processor, engine, items, root, config):
    from mmreward.agent.engine_rollout import rollout_groups
    from mmreward.agent.loop import rollout

    a, hf_s = timed(lambda: [rollout(backbone, processor, it["videos"], it["prompt"], config, media_root=root)
                             for it in items])
    b, vl_s = timed(lambda: [g[0] for g in rollout_groups(engine, processor, items, config, 1, root)])
    same = sum(x.turns == y.turns for x, y in zip(a, b))
    cached = sum(sum(t.prefill_tokens[1:]) for t in b) / max(sum(sum(t.prefill_tokens[1:]) for t in a), 1)
    return row("agent episodes", len(items), hf_s, vl_s,
               {"turns_equal": f"{same}/{len(items)}", "later_turn_prefill_vllm_vs_hf": round(cached, 2)})


def grpo_rollouts(o, backbone, processor, engine, items, root, config):
    from mmreward.train.agent.rollouts import sample_groups

    sampling = config.__class__.from_dict({**config.to_dict(), "temperature": 1.0})
    seeds = list(range(len(items)))
    a, hf_s = timed(lambda: sample_groups(backbone, processor, items, o.group_size, sampling, root, seeds))
    b, vl_s = timed(lambda: sample_groups(backbone, processor, items, o.group_size, sampling, root, seeds, engine))

    def mean_tokens(groups):
        traces = [t for g in groups for t in g]
        return round(sum(len(x) for t in traces for x in t.turn_token_ids) / len(traces), 1)

    return row("grpo rollout batch", len(items) * o.group_size, hf_s, vl_s,
               {"mean_tokens_hf": mean_tokens(a), "mean_tokens_vllm": mean_tokens(b)})


def media(o, root: Path):
    import numpy as np

    from mmreward.synth.images import make_image_pairs
    from video.writer import write_mp4

    pairs = make_image_pairs(root, max(o.pairs, 1), seed=1, size=o.image_size)
    pair_records = [{k: r[k] for k in ("id", "prompt", "candidates")} for r in pairs[:o.pairs]]
    singles = make_image_pairs(root / "single", max(o.prompts, 1), seed=2, size=o.image_size)
    point_records = [{"id": r["id"], "prompt": r["prompt"], "candidates": r["candidates"][:1]}
                     for r in singles[:o.prompts]]
    for r in point_records:  # the pairs live in root/single
        r["candidates"] = [{"images": ["single/" + r["candidates"][0]["images"][0]]}]
    clips = []
    for v in range(2):
        frames = np.zeros((32, 112, 112, 3), dtype=np.uint8)
        for i in range(32):
            frames[i] = (7 * i, 60 + 100 * v, 255 - 7 * i)
            frames[i, 4 * (i % 20):4 * (i % 20) + 20, 30:60] = 255
        write_mp4(root / f"clip{v}.mp4", frames, fps=8)
        clips.append(f"clip{v}.mp4")
    items = [{"id": str(i), "prompt": f"a bar moves, take {i}", "videos": clips} for i in range(o.episodes)]
    return pair_records, point_records, items


def main() -> None:
    from mmreward.agent.config import AgentConfig
    from mmreward.qwen_vl import TINY_PIXELS
    from mmreward.commands.parsing import parse_script
    from mmreward.engines.vllm import VLLMEngine, VLLMOptions, on_gpu
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.models.tiny import TINY_NAMES

    o = parse_script(Options, __doc__.split("\n\n")[0])
    todo = set(o.workloads.split(","))
    pixels = TINY_PIXELS if o.model in TINY_NAMES else {}
    backbone, processor, path = load_backbone(o.model, BackboneOptions(dtype=o.dtype, **pixels))
    engine, start_s = timed(lambda: VLLMEngine(path, processor, VLLMOptions(
        dtype=o.dtype, gpu_memory_utilization=o.gpu_memory_utilization)))
    config = AgentConfig(initial_frames=4, candidate_frames=16, max_turns=3, max_frames_per_call=4,
                         memory_window=1, max_new_tokens=o.agent_tokens, frame_max_pixels=112 * 112)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pair_records, point_records, items = media(o, root)
        # one warm-up request per engine: first-call costs (kernel selection, caches) are start-up
        unifiedreward(Options(max_new_tokens=2), backbone, processor, path, engine, root, pair_records[:1])
        if "unifiedreward" in todo:
            rows.append(unifiedreward(o, backbone, processor, path, engine, root, pair_records))
        if "yes-token" in todo:
            rows.append(yes_token(o, backbone, processor, path, engine, root, point_records))
        if "agent" in todo:
            rows.append(agent(o, backbone, processor, engine, items, root, config))
        if "grpo-rollouts" in todo:
            grpo_items = [dict(it, labels={"TA": 1, "VQ": 1, "MQ": 1, "OA": 1}) for it in items[:o.grpo_items]]
            rows.append(grpo_rollouts(o, backbone, processor, engine, grpo_items, root, config))
    engine.close()
    device = "cuda" if on_gpu() else "cpu"
    report = {"model": o.model, "device": device, "dtype": str(backbone.dtype), "vllm_start_s": round(start_s, 1),
              "rows": rows}
    if o.json:
        print(json.dumps(report))
        return
    print(f"model {o.model} on {device} ({backbone.dtype}); vLLM start-up {start_s:.1f} s (not in the rates)")
    for r in rows:
        extra = ", ".join(f"{k} {v}" for k, v in r.items() if k not in
                          ("workload", "items", "hf_s", "vllm_s", "hf_items_per_s", "vllm_items_per_s", "speedup"))
        print(f"{r['workload']:<24} {r['items']:>4} items  HF {r['hf_items_per_s']:>8.3f}/s ({r['hf_s']:.1f} s)  "
              f"vLLM {r['vllm_items_per_s']:>8.3f}/s ({r['vllm_s']:.1f} s)  x{r['speedup']:<6} {extra}")


if __name__ == "__main__":  # vLLM may start worker processes: keep the module importable
    main()
