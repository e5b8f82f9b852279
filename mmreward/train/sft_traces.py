"""Cold-start SFT of the video agent on multi-turn traces (`mmreward train sft --objective traces`).

Recipe:
  1. read traces (JSONL of `Trace`, e.g. `mmreward synth agent`'s traces.jsonl);
  2. each assistant turn becomes one sequence: the windowed context the model saw + its text,
     loss only on the assistant's own tokens (`agent_data`);
  3. `transformers.Trainer` with the standard causal-LM loss, computed on those tokens only
     (`agent_logprobs`), so `accelerate launch` gives multi-GPU / DeepSpeed / FSDP;
  4. checkpoints every --save-steps, `--resume` continues from the last; the final model and
     processor are written to --out with `save_pretrained`.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments

from mmreward.launch import cpu_only, process_state
from mmreward.train.agent_common import (StoreCache, add_agent_arguments, add_model_arguments,
                                         agent_config_from_args, default_media_root, load_policy)
from mmreward.train.agent_data import TurnCollator, encode_trace_turn
from mmreward.train.agent_logprobs import TokenLogprobs, causal_lm_loss


@dataclass
class TraceSFTConfig:
    out: str
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 4  # turn sequences per device per step
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    save_steps: int = 200
    logging_steps: int = 10
    seed: int = 0
    bf16: bool = False
    resume: bool = False
    report_to: str = "none"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "TraceSFTConfig":
        return cls(**{k: v for k, v in vars(args).items() if k in cls.__dataclass_fields__})


class TraceTurnDataset(torch.utils.data.Dataset):
    """(trace, assistant turn) pairs, tokenised lazily: images are decoded only when a turn is drawn."""

    def __init__(self, traces, processor, agent_config, media_root=None):
        self.traces, self.processor, self.config = traces, processor, agent_config
        self.index = [(i, t) for i, tr in enumerate(traces) for t in range(len(tr.turns))]
        # one open store per video pair, up to 512: frames are decoded once, not once per epoch
        self.stores = StoreCache(agent_config, media_root, size=512)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int):
        i, turn = self.index[k]
        trace = self.traces[i]
        store = self.stores.get(trace.videos)
        return encode_trace_turn(trace, turn, self.processor, store, self.config.memory_window)


class TraceTrainer(Trainer):
    """Trainer over `TokenLogprobs(policy)`: NLL of the labelled tokens; checkpoints in HF layout."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model(**inputs)
        loss = causal_lm_loss(out["logp"], out["mask"], num_items_in_batch)
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            # the count is global; DDP averages gradients over processes, so undo that average
            loss = loss * self.accelerator.num_processes
        return (loss, out) if return_outputs else loss

    def _save(self, output_dir=None, state_dict=None):
        if not self.args.should_save:  # one writer under several processes
            return
        output_dir = output_dir or self.args.output_dir
        self.accelerator.unwrap_model(self.model).policy.save_pretrained(output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        from safetensors.torch import load_file

        policy = self.accelerator.unwrap_model(model or self.model).policy
        state = load_file(str(Path(resume_from_checkpoint) / "model.safetensors"))
        # tied embeddings: lm_head.weight is not stored when it is the input embedding
        policy.load_state_dict(state, strict=False)


def training_arguments(cfg: TraceSFTConfig) -> TrainingArguments:
    return TrainingArguments(
        output_dir=cfg.out, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio,  # < 1: a ratio
        lr_scheduler_type="cosine", logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
        save_total_limit=2, seed=cfg.seed, bf16=cfg.bf16, remove_unused_columns=False,
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(), report_to=cfg.report_to,
        use_cpu=cpu_only(),
    )


def train_on_traces(traces, policy, processor, agent_config, cfg: TraceSFTConfig, media_root=None):
    """SFT `policy` on `traces`; saves to cfg.out; returns the Trainer's train output."""
    from transformers.trainer_utils import get_last_checkpoint

    policy.train()
    dataset = TraceTurnDataset(traces, processor, agent_config, media_root)
    trainer = TraceTrainer(model=TokenLogprobs(policy), args=training_arguments(cfg),
                           train_dataset=dataset, data_collator=TurnCollator(processor.tokenizer.pad_token_id),
                           processing_class=processor)
    resume = get_last_checkpoint(cfg.out) if cfg.resume and Path(cfg.out).is_dir() else None
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(cfg.out)
    policy.eval()
    dataset.stores.close()
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--traces", required=True, help="JSONL of agent traces (one Trace per line)")
    add_model_arguments(p)
    p.add_argument("--epochs", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--batch-size", type=int, default=4, help="turn sequences per device per step")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-ratio", type=float, default=0.05)
    p.add_argument("--save-steps", type=int, default=200)
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    p.add_argument("--report-to", default="none")
    add_agent_arguments(p)


def main(args: argparse.Namespace) -> int:
    from mmreward.agent.trace import read_traces

    traces = read_traces(args.traces)
    agent_config = agent_config_from_args(args)
    policy, processor = load_policy(args.model, args.dtype, args.min_pixels, args.max_pixels)
    cfg = TraceSFTConfig.from_args(args)
    cfg.bf16 = torch.cuda.is_available() and args.dtype in (None, "bfloat16", "bf16")
    media_root = default_media_root(args.traces, args.media_root)
    result = train_on_traces(traces, policy, processor, agent_config, cfg, media_root)
    if not process_state().is_main_process:
        return 0
    summary = {"traces": len(traces), "train_loss": result.training_loss, "steps": result.global_step,
               "agent_config": agent_config.to_dict()}
    Path(cfg.out, "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    Path(cfg.out, "agent_config.json").write_text(json.dumps(agent_config.to_dict(), indent=2) + "\n")
    print(json.dumps(summary))
    return 0
