"""Every optimizer step's figures, and the stop on a non-finite loss or weight.

A recipe's loss function returns the loss and, beside it, figures of the batch (`accuracy`,
`margin`: as TRL's reward trainer logs them). `StepLog` averages them over the step's
micro-batches and all processes, shows them on the progress bar, appends them to
`<out>/train_log.jsonl` (one line per step: what `train_summary.json` reports; a resumed run
drops the lines of the steps it redoes) and stops the run with a `TrainingError` as soon as the
loss or a weight is not finite: the check runs after each optimizer step, before any checkpoint
of that step is written, so nothing non-finite reaches the disk.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import TrainerCallback

from mmreward.errors import TrainingError

LOG_NAME = "train_log.jsonl"
ADVICE = "lower --lr, keep --max-grad-norm above 0, or check the data"


def all_finite(tensors) -> bool:
    """True when every tensor is finite (DTensors: this process's shard)."""
    from mmreward.train.sharding import local_tensor

    local = [local_tensor(t.detach()) for t in tensors]
    local = [t for t in local if t.numel()]
    if not local:
        return True
    # the largest |element| is finite exactly when every element is (and NaN when one is): one fused pass
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(local, float("inf")))).all())


def check_weights(params, processes, step: int) -> None:
    """TrainingError on every process when any process holds a non-finite weight."""
    bad = torch.tensor(0.0 if all_finite(params) else 1.0, device=processes.device)
    if float(processes.reduce(bad, "sum")) > 0:
        raise TrainingError(f"training stopped at step {step}: a weight is not finite; nothing of this step "
                            f"was saved ({ADVICE})")


def read_log(out: str | Path, name: str = LOG_NAME) -> list[dict]:
    path = Path(out) / name
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x] if path.is_file() else []


def trim_log(out: str | Path, last_step: int, name: str = LOG_NAME) -> None:
    """Drop the lines of steps after `last_step`: a resumed run redoes them."""
    path = Path(out) / name
    if path.is_file():
        kept = [r for r in read_log(out, name) if r["step"] <= last_step]
        path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


def append_log(out: str | Path, record: dict, name: str = LOG_NAME) -> None:
    with open(Path(out) / name, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


class StepLog(TrainerCallback):
    """See the module's docstring. `trainer.compute_loss` calls `record` for each micro-batch."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.sums: dict[str, float] = {}
        self.batches = 0
        self.finite = True

    def record(self, loss: torch.Tensor, figures: dict) -> None:
        value = float(loss.detach())
        self.finite &= bool(torch.isfinite(loss.detach()).all())
        for name, v in {"loss": value, **{k: float(v) for k, v in figures.items()}}.items():
            self.sums[name] = self.sums.get(name, 0.0) + v
        self.batches += 1

    def on_train_begin(self, args, state, control, **kwargs):
        if self.trainer.is_world_process_zero():
            trim_log(args.output_dir, state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        acc = self.trainer.accelerator
        names = sorted(self.sums)
        local = torch.tensor([self.sums[n] / max(self.batches, 1) for n in names] + [0.0 if self.finite else 1.0],
                             device=acc.device, dtype=torch.float64)
        mean = acc.reduce(local, "sum") / acc.num_processes
        self.sums, self.batches, self.finite = {}, 0, True
        if float(mean[-1]) > 0:
            raise TrainingError(f"training stopped at step {state.global_step}: the loss is not finite; nothing of "
                                f"this step was saved ({ADVICE})")
        check_weights(self.trainer.model.parameters(), acc, state.global_step)
        record = {"step": state.global_step, **{n: round(float(v), 6) for n, v in zip(names, mean[:-1])}}
        if self.trainer.is_world_process_zero():
            append_log(args.output_dir, record)
            bar = next((cb.training_bar for cb in self.trainer.callback_handler.callbacks
                        if getattr(cb, "training_bar", None) is not None), None)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "step"}, refresh=False)
