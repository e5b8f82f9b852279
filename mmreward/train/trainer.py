"""`transformers.Trainer` for reward modules that are not `PreTrainedModel`s, and `fit`.

Only three things differ from the stock Trainer: the loss comes from the
recipe, checkpoints are written in the reward-model layout (a loadable VLM dir
plus reward head), and resuming reads that layout back.
"""
from __future__ import annotations

from typing import Callable

from transformers import Trainer

from mmreward.train.common import (SupervisedConfig, evaluate_file, last_checkpoint, training_arguments,
                                   write_summary)
from mmreward.train.data import PreferenceDataset, read_preference_records


class RewardTrainer(Trainer):
    def __init__(self, *args, loss_fn: Callable, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = self.loss_fn(model, inputs)
        return (loss, None) if return_outputs else loss

    def _save(self, output_dir=None, state_dict=None):
        if self.args.should_save:
            self.accelerator.unwrap_model(self.model).save_pretrained(
                output_dir or self.args.output_dir, self.processing_class)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        (model or self.model).load_weights(resume_from_checkpoint)


def fit(cfg: SupervisedConfig, rm, collator, loss_fn: Callable) -> int:
    """Train `rm` on cfg.data; held-out pairwise accuracy before and after; save to cfg.out."""
    before = evaluate_file(rm, cfg.eval_data, cfg.media_root)
    if before:
        print(f"held-out pairwise accuracy before: {before['accuracy']:.3f} (n={before['n']})")
    trainer = RewardTrainer(
        model=rm.module,
        args=training_arguments(cfg),
        train_dataset=PreferenceDataset(read_preference_records(cfg.data), rm.media_options(cfg.media_root)),
        data_collator=collator,
        processing_class=rm.processor,
        loss_fn=loss_fn,
    )
    trainer.train(resume_from_checkpoint=last_checkpoint(cfg.out) if cfg.resume else None)
    rm.module.untrained_head = False  # its head is trained now (mmreward.api.RewardModel.untrained_head)
    trainer.save_model(cfg.out)
    if not trainer.is_world_process_zero():
        return 0
    rm.module.eval()
    after = evaluate_file(rm, cfg.eval_data, cfg.media_root)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    write_summary(cfg.out, {"before": before, "after": after, "steps": trainer.state.global_step,
                            "first_loss": losses[0] if losses else None,
                            "final_loss": losses[-1] if losses else None})
    if after:
        print(f"held-out pairwise accuracy after: {after['accuracy']:.3f} (n={after['n']})")
    print(f"saved reward model to {cfg.out}")
    return 0
