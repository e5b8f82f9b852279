"""Does each training stage learn with LoRA? Held-out accuracy before and after, LoRA beside full fine-tuning.

    python benchmarks/lora_learning.py [--stages bt yes-token traces grpo rft] [--lora-r 16] [--work DIR]

Every stage runs twice with the same data, steps and seed: full fine-tuning and `--lora-r R` (adapters on
the language model's projections, vision tower frozen, a scalar head trained in full), each at its own
learning rate (the reward stages at the same one: the head trains at it too). The tiny model (random weights)
on the synthetic tasks, CPU only:
  bt, yes-token   synthetic image pairs (`reward_learning.py`'s task): held-out pairwise accuracy;
  traces          cold-start SFT on the synthetic agent task (`agent_learning.py`'s): held-out accuracy
                  of greedy rollouts (0.5 overall + 0.5 mean of TA/VQ/MQ) and format-valid rate;
  grpo            from the full cold-start checkpoint, GRPO with full weights vs with LoRA (reference: the
                  checkpoint; with LoRA, the same model with its adapters off): held-out accuracy;
  rft             from the same checkpoint: k samples per item, SFT on the kept ones, full vs LoRA.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agent_learning as agent  # noqa: E402
from mmreward.cli import main as cli  # noqa: E402
from mmreward.commands.parsing import parse_script  # noqa: E402

STAGES = ("bt", "yes-token", "traces", "grpo", "rft")


@dataclass
class Settings:
    work: str = field(default="/tmp/mmreward_lora_learning", metadata={"help": "scratch directory"})
    stages: list[str] = field(default_factory=lambda: list(STAGES), metadata={"help": f"of: {' '.join(STAGES)}"})
    lora_r: int = 16
    seed: int = 0
    threads: int = 2
    # reward stages (the image task of reward_learning.py)
    # reward_learning.py's defaults, so that the full fine-tune's figure can be set beside the README's
    n_pairs: int = 3000
    n_test_pairs: int = 300
    bt_epochs: float = 8
    yes_epochs: float = 14
    bt_batch: int = 32
    yes_batch: int = 32
    kinds: list[str] = field(default_factory=lambda: ["full", "lora"], metadata={
        "help": "full fine-tuning, LoRA, or both (the same data, steps and seed)"})
    reward_lr: float = field(default=1e-3, metadata={"help": "full fine-tuning"})
    reward_lora_lr: float = field(default=1e-3, metadata={
        "help": "LoRA (the head trains at this rate too; at 5e-3 the bt run's rewards collapsed to one value "
                "and it stayed at chance, 0.493 after 752 steps)"})
    # agent stages (the task of agent_learning.py)
    n_items: int = 160
    n_test_items: int = 80
    sft_epochs: float = 3.0
    sft_lr: float = 1e-2
    sft_lora_lr: float = 2e-2
    grpo_steps: int = 20
    grpo_lr: float = 5e-4
    grpo_lora_lr: float = 2.5e-3
    rft_items: int = 40
    rft_k: int = 4


def lora_options(args):
    from mmreward.train.lora import LoraOptions

    return LoraOptions(lora_r=args.lora_r)


def reward_stage(stage: str, data: Path, out: Path, args, lora: bool) -> dict:
    command = ["bt"] if stage == "bt" else ["sft", "--objective", "yes-token", "--form", "pointwise"]
    epochs, batch = (args.bt_epochs, args.bt_batch) if stage == "bt" else (args.yes_epochs, args.yes_batch)
    # as reward_learning.py measured them: cosine for bt; the yes/no read-out needs a constant rate
    scheduler = "cosine" if stage == "bt" else "constant_with_warmup"
    t = time.perf_counter()
    rc = cli(["train", *command, "--data", str(data / "train.jsonl"), "--eval-data", str(data / "test.jsonl"),
              "--media-root", str(data), "--out", str(out), "--overwrite", "--epochs", str(epochs), "--batch-size",
              str(batch), "--lr", str(args.reward_lora_lr if lora else args.reward_lr), "--lr-scheduler", scheduler,
              "--logging-steps", "50", "--save-steps", "100000", "--seed", str(args.seed),
              *(["--lora-r", str(args.lora_r)] if lora else [])])
    if rc:
        raise SystemExit(f"{stage} failed with exit code {rc}")
    s = json.loads((out / "train_summary.json").read_text())
    trained = s["memory_per_process"][0]["grads_bytes"] // 4
    return {"before": s["before"]["accuracy"], "after": s["after"]["accuracy"], "steps": s["steps"],
            "trained_parameters": trained, "seconds": round(time.perf_counter() - t)}


def sft(traces, config, media_root, out, args, lora: bool, model="tiny", epochs=None):
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces
    from mmreward.train.lora import NO_LORA

    policy, processor = agent.load_policy(model)
    cfg = TraceSFTConfig(output_dir=str(out), overwrite=True, num_train_epochs=epochs or args.sft_epochs,
                         per_device_train_batch_size=8, learning_rate=args.sft_lora_lr if lora else args.sft_lr,
                         save_steps=100_000, logging_steps=10, warmup_steps=0.05, seed=args.seed)
    train_on_traces(traces, policy, processor, config, cfg, media_root, lora_options(args) if lora else NO_LORA)
    return policy, processor


def grpo(sft_dir, items, config, media_root, out, args, lora: bool):
    import shutil

    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from mmreward.train.lora import NO_LORA

    policy, processor = agent.load_policy(sft_dir)
    ref = None if lora else agent.load_policy(sft_dir)[0]
    shutil.rmtree(out, ignore_errors=True)
    cfg = GRPOConfig(out=str(out), steps=args.grpo_steps, items_per_step=4, group_size=8,
                     lr=args.grpo_lora_lr if lora else args.grpo_lr, beta=0.04, temperature=0.7, top_p=0.95,
                     micro_batch=8, save_steps=0, seed=args.seed)
    return train_grpo(policy, processor, ref, items, config, cfg, media_root,
                      lora=lora_options(args) if lora else NO_LORA)


def rft_sample(sft_dir, items, config, media_root, args):
    """RFT's kept traces: k samples per item from the cold-start checkpoint, filtered (once: the full
    and the LoRA run train on the same traces)."""
    import torch

    from mmreward.agent.config import AgentConfig
    from mmreward.train.agent.rft import sample_and_filter

    policy, processor = agent.load_policy(sft_dir)
    sampling = AgentConfig.from_dict({**config.to_dict(), "temperature": 0.7, "top_p": 0.95})
    return sample_and_filter(policy, processor, items, args.rft_k, sampling, media_root,
                             torch.Generator().manual_seed(args.seed))


def agent_stages(args, work: Path, results: dict) -> None:
    from mmreward.synth.agent import make_agent_items

    config = agent.agent_config()
    train = make_agent_items(work / "train", args.n_items, seed=args.seed, config=config, traces=False)
    test = make_agent_items(work / "test", args.n_test_items, seed=args.seed + 1, config=config, traces=False)
    tr, te = str(work / "train"), str(work / "test")
    untrained, processor = agent.load_policy("tiny")

    def score(model) -> dict:
        r = agent.evaluate(model, processor, test, config, te)
        return {"accuracy": round(r["accuracy"], 4), "format_rate": round(r["format_rate"], 4)}

    before = score(untrained)
    traces = agent.make_traces(train, config, tool=True)
    full_sft = work / "sft_full"
    if "traces" in args.stages or {"grpo", "rft"} & set(args.stages):
        for lora in (kind == "lora" for kind in args.kinds):
            t = time.perf_counter()
            model = sft(traces, config, tr, work / ("sft_lora" if lora else "sft_full"), args, lora)[0]
            results.setdefault("traces", {"before": before})["lora" if lora else "full"] = {
                **score(model), "seconds": round(time.perf_counter() - t)}
            print("[traces]", json.dumps(results["traces"]), flush=True)
    if not {"grpo", "rft"} & set(args.stages):
        return
    start = {k: v for k, v in results.get("traces", {}).get("full", {}).items() if k != "seconds"}
    start = start or score(agent.load_policy(full_sft)[0])
    kept = None
    if "rft" in args.stages:
        t = time.perf_counter()
        kept, report = rft_sample(full_sft, train[:args.rft_items], config, tr, args)
        results["rft"] = {"before": start, "sampling": {**report, "seconds": round(time.perf_counter() - t)}}
        print("[rft]", json.dumps(results["rft"]), flush=True)
    for stage in ("grpo", "rft"):
        if stage not in args.stages or (stage == "rft" and not kept):
            continue
        results.setdefault(stage, {"before": start})
        for lora in (kind == "lora" for kind in args.kinds):
            t = time.perf_counter()
            out = work / f"{stage}_{'lora' if lora else 'full'}"
            model = (grpo(full_sft, train, config, tr, out, args, lora) if stage == "grpo" else
                     sft(kept, config, tr, out, args, lora, model=str(full_sft), epochs=1.0)[0])
            results[stage]["lora" if lora else "full"] = {**score(model), "seconds": round(time.perf_counter() - t)}
            print(f"[{stage}]", json.dumps(results[stage]), flush=True)


def main() -> int:
    import torch

    from mmreward.synth.images import make_image_pairs

    args = parse_script(Settings, __doc__.split("\n\n")[0])
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    results: dict = {"args": vars(args)}
    if {"bt", "yes-token"} & set(args.stages):
        n = args.n_pairs + args.n_test_pairs
        make_image_pairs(work / "pairs", n, seed=args.seed, size=56, test_fraction=args.n_test_pairs / n,
                         colours=("red", "green", "blue", "yellow", "purple", "orange"), differ="colour")
        for stage in ("bt", "yes-token"):
            if stage in args.stages:
                results[stage] = {kind: reward_stage(stage, work / "pairs", work / f"{stage}_{kind}", args,
                                                     kind == "lora") for kind in args.kinds}
                print(f"[{stage}]", json.dumps(results[stage]), flush=True)
    if {"traces", "grpo", "rft"} & set(args.stages):
        agent_stages(args, work, results)
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n== LoRA (r={args.lora_r}) beside full fine-tuning: held-out accuracy, tiny model, synthetic tasks ==")
    print(f"{'stage':<10} {'before':>7} {'full':>7} {'LoRA':>7}   seconds full / LoRA")
    for stage in STAGES:
        if stage not in results:
            continue
        r = results[stage]
        runs = {k: r.get(k, {}) for k in ("full", "lora")}
        before = next(v["before"] for v in runs.values() if v) if stage in ("bt", "yes-token") else r["before"]["accuracy"]
        after = {k: v.get("after", v.get("accuracy", float("nan"))) for k, v in runs.items()}
        seconds = " / ".join(str(v.get("seconds", "-")) for v in runs.values())
        print(f"{stage:<10} {before:7.3f} {after['full']:7.3f} {after['lora']:7.3f}   {seconds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
