"""On one GPU: a random-weight model of a released size, a few steps of `bt` with LoRA and of GRPO with
LoRA; peak GPU memory beside the memory plan's prediction (`mmreward train ... --plan`), and steps/s.

    python benchmarks/gpu_lora_memory.py [--model-config tests/mmreward/train/data/qwen2.5-vl-7b-instruct]
                                         [--dtype bfloat16] [--lora-r 16] [--steps 5]

The model is built from the released configuration (no weights: `from_config`, random init) with the
real Qwen2.5-VL processor of the tiny preset (the same tokenizer and image processing), and trained by
the recipes' own functions (`train.trainer.fit` with the bt loss, `train.agent.grpo.train_grpo`) on
the synthetic image pairs and agent items. `--model-config tiny` runs the same code on CPU (a smoke
test of the script; no memory figures there). Not run for this version: no GPU was lent.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mmreward.commands.parsing import parse_script  # noqa: E402

GIB = 2**30


@dataclass
class Settings:
    model_config: str = field(default="tests/mmreward/train/data/qwen2.5-vl-7b-instruct", metadata={
        "help": "a directory holding a released config.json, or 'tiny' (CPU smoke test)"})
    dtype: str = field(default="bfloat16", metadata={"help": "the weights' dtype (LoRA adapters train in it too)"})
    lora_r: int = 16
    steps: int = 5
    batch_size: int = field(default=2, metadata={"help": "bt: pairs per step"})
    grpo_items: int = 2
    group_size: int = 4
    max_new_tokens: int = 48
    activation_checkpointing: bool = False
    work: str | None = None


def random_model(args, device):
    from transformers import AutoConfig

    from mmreward.models.backbone import model_class_for, resolve_dtype
    from mmreward.models.tiny import tiny_config, tiny_processor

    config = tiny_config() if args.model_config == "tiny" else AutoConfig.from_pretrained(args.model_config)
    cls = model_class_for(args.model_config) if args.model_config != "tiny" else type(None)
    if args.model_config == "tiny":
        from transformers import Qwen2_5_VLForConditionalGeneration as cls  # noqa: N813
    torch.manual_seed(0)
    with torch.device(device):
        model = cls._from_config(config, dtype=resolve_dtype(args.dtype, str(device)))
    return model, tiny_processor()


def peak(device) -> float | None:
    return torch.cuda.max_memory_allocated() / GIB if device.type == "cuda" else None


def planned(stage: str, args, seq_len: int, sequences: int, reference: bool = False) -> float:
    from mmreward.train.lora import LoraOptions
    from mmreward.train.plan import Setup, compute

    model = "tiny" if args.model_config == "tiny" else args.model_config
    setup = Setup(stage, model, args.dtype, sequences, 1, "ddp", 1, True, 2, args.activation_checkpointing,
                  reference, seq_len)
    return compute(setup, LoraOptions(lora_r=args.lora_r), 80)["total_bytes"] / GIB


def run_bt(args, work: Path, device) -> dict:
    from mmreward.api import RewardModel
    from mmreward.models.config import RewardConfig
    from mmreward.models.scalar import ScalarRewardModel
    from mmreward.scoring.media import MediaOptions
    from mmreward.scoring.records import load_item
    from mmreward.synth.images import make_image_pairs
    from mmreward.train.lora import LoraOptions
    from mmreward.train.reward.bt import BTConfig, PairCollator, bt_loss
    from mmreward.train.reward.data import PreferenceData
    from mmreward.train.trainer import fit

    records = make_image_pairs(work / "pairs", args.batch_size * args.steps, seed=0, size=224)
    backbone, processor = random_model(args, device)
    module = ScalarRewardModel(backbone, RewardConfig())
    rm = RewardModel(module, processor, RewardConfig(), "random")
    collator = PairCollator(processor, [])
    media = MediaOptions(media_root=work / "pairs")
    seq_len = collator([(load_item(r, media), r) for r in records[:args.batch_size]])["batch"]["input_ids"].shape[1]
    cfg = BTConfig(output_dir=str(work / "bt"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
                   save_steps=10**6, logging_steps=1, bf16=device.type == "cuda", lr_scheduler_type="constant",
                   activation_checkpointing=args.activation_checkpointing)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    fit(rm, PreferenceData(data=str(work / "pairs" / "pairs.jsonl"), media_root=str(work / "pairs")), cfg, collator,
        bt_loss, LoraOptions(lora_r=args.lora_r, lora_save="adapters"))
    seconds = time.perf_counter() - t
    return {"peak_gib": peak(device), "plan_gib": planned("bt", args, seq_len, 2 * args.batch_size),
            "seq_len": seq_len, "steps_per_s": args.steps / seconds}


def run_grpo(args, work: Path, device) -> dict:
    import agent_learning

    from mmreward.synth.agent import make_agent_items
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from mmreward.train.lora import LoraOptions

    config = agent_learning.agent_config(max_new_tokens=args.max_new_tokens, max_turns=2)
    items = make_agent_items(work / "items", args.grpo_items * args.steps, config=config, traces=False)
    policy, processor = random_model(args, device)
    cfg = GRPOConfig(out=str(work / "grpo"), steps=args.steps, items_per_step=args.grpo_items,
                     group_size=args.group_size, micro_batch=args.group_size, beta=0.04, save_steps=0,
                     bf16=device.type == "cuda", activation_checkpointing=args.activation_checkpointing)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    # a model built from a config has no base checkpoint to merge into: keep the adapters
    train_grpo(policy, processor, None, items, config, cfg, str(work / "items"),
               lora=LoraOptions(lora_r=args.lora_r, lora_save="adapters"))
    seconds = time.perf_counter() - t
    log = [json.loads(x) for x in (work / "grpo" / "grpo_log.jsonl").read_text().splitlines()]
    # the longest turn sequence: prompt (2 videos x initial frames) + what the policy wrote
    seq_len = 1024
    return {"peak_gib": peak(device), "plan_gib": planned("grpo", args, seq_len, args.group_size),
            "plan_seq_len": seq_len, "steps_per_s": args.steps / seconds,
            "rollout_s": sum(r["rollout_s"] for r in log) / len(log), "update_s": sum(r["update_s"] for r in log) / len(log)}


def main() -> int:
    args = parse_script(Settings, __doc__.split("\n\n")[0])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu" and args.model_config != "tiny":
        raise SystemExit("gpu_lora_memory.py: no GPU here; `--model-config tiny` runs the script's code on CPU")
    work = Path(args.work or tempfile.mkdtemp(prefix="mmreward-gpu-lora-"))
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "args": vars(args),
               "bt_lora": run_bt(args, work, device)}
    torch.cuda.empty_cache() if device.type == "cuda" else None
    results["grpo_lora"] = run_grpo(args, work, device)
    print(json.dumps(results, indent=2))
    for name in ("bt_lora", "grpo_lora"):
        r = results[name]
        shown = f"peak {r['peak_gib']:.2f} GiB" if r["peak_gib"] is not None else "peak n/a (CPU)"
        print(f"{name}: {shown}, plan {r['plan_gib']:.2f} GiB, {r['steps_per_s']:.3f} steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
