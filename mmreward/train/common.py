"""Pieces every supervised recipe shares: arguments, TrainingArguments, pairwise evaluation."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.train.data import read_preference_records


@dataclass
class SupervisedConfig:
    data: str = ""
    out: str = ""
    model: str = "tiny"
    media_root: str | None = None
    eval_data: str | None = None
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 8  # pairs per device
    grad_accum: int = 1
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    lr_scheduler: str = "cosine"
    save_steps: int = 500
    logging_steps: int = 10
    seed: int = 0
    dtype: str | None = None
    resume: bool = False
    min_pixels: int | None = None
    max_pixels: int | None = None
    video_frames: int | None = None
    dimensions: list[str] = field(default_factory=list)
    report_to: str = "none"

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        return cls(**{k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__})


def add_supervised_arguments(p: argparse.ArgumentParser, default_lr: float = 2e-4) -> None:
    p.add_argument("--data", required=True, help="training JSONL: records with 2 candidates and 'chosen'")
    p.add_argument("--out", required=True, help="output directory (checkpoints and the final model)")
    p.add_argument("--model", default="tiny", help="initial checkpoint: tiny, a directory or a hub id")
    p.add_argument("--media-root", default=None, help="directory the records' media paths are relative to")
    p.add_argument("--eval-data", default=None, help="held-out JSONL: pairwise accuracy before and after")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=-1, help="stop after this many optimizer steps")
    p.add_argument("--batch-size", type=int, default=8, help="pairs per device per step")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=default_lr)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-ratio", type=float, default=0.05)
    p.add_argument("--lr-scheduler", default="cosine",
                   help="transformers scheduler name: cosine (default), constant_with_warmup, linear, ...")
    p.add_argument("--save-steps", type=int, default=500)
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default=None, help="bfloat16 | float32 (default: bf16 on GPU)")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint in --out")
    p.add_argument("--min-pixels", type=int, default=None)
    p.add_argument("--max-pixels", type=int, default=None)
    p.add_argument("--video-frames", type=int, default=None)
    p.add_argument("--report-to", default="none", help="none | tensorboard | wandb ...")


def load_for_training(cfg: SupervisedConfig, mode: str):
    import mmreward

    kwargs = dict(dtype=cfg.dtype, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels,
                  video_frames=cfg.video_frames)
    if mode == "scalar":
        kwargs["dimensions"] = cfg.dimensions
    # accelerate places the model; loading on CPU first avoids every rank filling cuda:0
    return mmreward.load(cfg.model, mode, device="cpu", **kwargs)


def training_arguments(cfg: SupervisedConfig):
    import torch
    from transformers import TrainingArguments

    from mmreward.launch import cpu_only

    return TrainingArguments(
        output_dir=cfg.out,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_ratio,  # a fraction < 1 is a ratio of the total steps
        lr_scheduler_type=cfg.lr_scheduler,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        bf16=torch.cuda.is_available() and cfg.dtype in (None, "bfloat16", "bf16"),
        use_cpu=cpu_only(),
        remove_unused_columns=False,
        dataloader_num_workers=0,
        report_to=cfg.report_to,
        disable_tqdm=False,
    )


def pairwise_accuracy(rm, records: list[dict], media_root=None, batch_size: int = 16) -> dict:
    """Share of pairs whose chosen candidate gets the strictly higher reward (ties are wrong)."""
    outs = rm.score(records, media_root=media_root, batch_size=batch_size)
    right = errors = 0
    for rec, out in zip(records, outs):
        if "error" in out:
            errors += 1
            continue
        c = rec["chosen"]
        right += out["rewards"][c] > out["rewards"][1 - c]
    return {"accuracy": right / len(records), "n": len(records), "errors": errors}


def evaluate_file(rm, path: str | None, media_root) -> dict | None:
    if not path:
        return None
    return pairwise_accuracy(rm, read_preference_records(path), media_root)


def last_checkpoint(out: str) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(out) if Path(out).is_dir() else None


def write_summary(out: str, summary: dict) -> None:
    Path(out).mkdir(parents=True, exist_ok=True)
    Path(out, "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
