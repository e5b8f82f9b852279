"""The one `transformers.Trainer` of the supervised recipes, and the run around it.

What differs from the stock Trainer, and why:
  - the loss is the recipe's (`loss_fn(model, inputs, num_items_in_batch)`);
  - the trained module is not a `PreTrainedModel`: it saves itself as a loadable checkpoint
    directory (`module.save_pretrained(dir, processor)`) and resumes strictly
    (`module.load_weights(dir)`: a checkpoint whose keys do not match is an error);
  - checkpoints are atomic (`checkpoints.py`): the Trainer writes them into a staging folder,
    which is renamed into place once every process has written its part.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from transformers import Trainer
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from mmreward.train import checkpoints
from mmreward.train.common import TrainArguments, pairwise_accuracy, write_summary
from mmreward.train.reward.data import PreferenceData, PreferenceDataset, read_preference_records

class RecipeTrainer(Trainer):
    def __init__(self, *args, loss_fn: Callable, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self._staging = False  # True while a checkpoint is being written

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = self.loss_fn(model, inputs, num_items_in_batch)
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            # the token count is that of all processes, and DDP averages gradients: undo the average
            loss = loss * self.accelerator.num_processes
        return (loss, None) if return_outputs else loss

    def _save(self, output_dir=None, state_dict=None):
        if not self.args.should_save:  # one writer under several processes
            return
        output_dir = output_dir or self.args.output_dir
        self.accelerator.unwrap_model(self.model).save_pretrained(output_dir, self.processing_class)
        if self._staging:
            checkpoints.crash_point(Path(output_dir).name)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        (model or self.model).load_weights(resume_from_checkpoint)

    def _get_output_dir(self, trial):
        out = super()._get_output_dir(trial)
        return str(Path(out) / checkpoints.STAGING) if self._staging else out

    def _save_checkpoint(self, model, trial):
        # the stock save, pointed at the staging folder by `_get_output_dir`, then renamed into place
        out, name = self.args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        checkpoints.begin(out, name, self.accelerator)
        self._staging = True
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = False
        checkpoints.commit(out, name, self.accelerator)
        if self.args.should_save:
            rotate_checkpoints(out, self.args.save_total_limit, self.state.best_model_checkpoint)


def train_and_save(trainer: RecipeTrainer, args: TrainArguments):
    """Train (from the newest complete checkpoint with --resume, or --resume-from-checkpoint DIR), then
    save the final model to --out."""
    start = args.resume_from_checkpoint  # an explicit checkpoint folder
    if args.resume and start is None:
        start = checkpoints.resume_point(args.output_dir, TRAINER_STATE_NAME, trainer.is_world_process_zero())
    result = trainer.train(resume_from_checkpoint=str(start) if start else None)
    trainer.save_model(args.output_dir)
    return result


def load_reward_model(model, data: PreferenceData, mode: str, **options):
    """The reward model a preference stage starts from (`model`: TrainModelOptions)."""
    import mmreward

    kwargs = {"dtype": model.dtype, "attn_implementation": model.attn_implementation,
              "min_pixels": model.min_pixels, "max_pixels": model.max_pixels,
              "video_frames": data.video_frames, **options}
    # loaded on CPU: accelerate places it, and no process fills cuda:0 first
    return mmreward.load(model.model, mode, device="cpu", **{k: v for k, v in kwargs.items() if v is not None})


def fit(rm, data: PreferenceData, args: TrainArguments, collator, loss_fn: Callable) -> int:
    """Train `rm` on the preference data; held-out pairwise accuracy before and after; save to --out."""
    records = read_preference_records(data.data)  # checked before anything else runs
    held_out = read_preference_records(data.eval_data) if data.eval_data else None
    before = pairwise_accuracy(rm, held_out, data.media_root) if held_out else None
    if before:
        print(f"held-out pairwise accuracy before: {before['accuracy']:.3f} (n={before['n']})")
    trainer = RecipeTrainer(model=rm.module, args=args, data_collator=collator, processing_class=rm.processor,
                            train_dataset=PreferenceDataset(records, rm.media_options(data.media_root)),
                            loss_fn=loss_fn)
    train_and_save(trainer, args)
    rm.module.untrained_head = False  # its head is trained now (mmreward.qwen_vl.RewardModel.untrained_head)
    if not trainer.is_world_process_zero():
        return 0
    rm.module.eval()
    after = pairwise_accuracy(rm, held_out, data.media_root) if held_out else None
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    write_summary(args.output_dir, {"before": before, "after": after, "steps": trainer.state.global_step,
                                    "first_loss": losses[0] if losses else None,
                                    "final_loss": losses[-1] if losses else None})
    if after:
        print(f"held-out pairwise accuracy after: {after['accuracy']:.3f} (n={after['n']})")
    print(f"saved reward model to {args.output_dir}")
    return 0
