"""The one `transformers.Trainer` of the supervised recipes, and the run around it.

What differs from the stock Trainer, and why:
  - the loss is the recipe's (`loss_fn(model, inputs, num_items_in_batch)`, returning the loss or
    (loss, figures)); every step's figures are logged and a non-finite loss or weight stops the
    run (`step_log.StepLog`);
  - the trained module is not a `PreTrainedModel`: it saves itself as a loadable checkpoint
    directory (`module.save_pretrained(dir, processor, state_dict)`: the adapters alone with LoRA)
    and resumes strictly (`module.load_weights(dir)`: a checkpoint whose keys do not match is an error);
  - FSDP2 (`--fsdp`, through accelerate): the classes to shard one by one are read from the
    transformers model inside the module, CPU processes shard too (`sharding.py`); checkpoints hold
    the sharded model and optimizer states (each process writes its shard, torch.distributed.checkpoint)
    *and* the whole model gathered into an ordinary directory, so every checkpoint loads as a model;
  - checkpoints are atomic (`checkpoints.py`): the Trainer writes them into a staging folder,
    which is renamed into place once every process has written its part.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from transformers import Trainer
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints

from mmreward.train import checkpoints, sharding
from mmreward.train.common import TrainArguments, pairwise_accuracy, write_summary
from mmreward.train.lora import NO_LORA, LoraOptions, export_merged
from mmreward.train.reward.data import PreferenceData, PreferenceDataset, read_preference_records
from mmreward.train.step_log import StepLog, read_log


class RecipeTrainer(Trainer):
    def __init__(self, *args, loss_fn: Callable, lora: LoraOptions = NO_LORA, **kwargs):
        self.lora = lora
        super().__init__(*args, **kwargs)
        self.loss_fn = loss_fn
        self._staging = False  # True while a checkpoint is being written
        self.step_log = StepLog(self)
        self.add_callback(self.step_log)
        self.memory: dict | None = None  # this process's parameter, gradient and optimizer bytes after step 1

    def create_accelerator_and_postprocess(self):
        self.args.fsdp_plugin_args = sharding.fsdp_plugin_args(self.args.fsdp_plugin_args, self.model)
        super().create_accelerator_and_postprocess()
        plugin = None
        if self.args.fsdp_plugin_args is not None:
            from accelerate.utils import FullyShardedDataParallelPlugin

            plugin = FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)
        self.is_fsdp_enabled = sharding.fsdp_on_cpu(self.accelerator, plugin)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = self.loss_fn(model, inputs, num_items_in_batch)
        loss, figures = out if isinstance(out, tuple) else (out, {})
        self.step_log.record(loss, figures)
        if num_items_in_batch is not None and self.args.average_tokens_across_devices:
            # the token count is that of all processes, and DDP averages gradients: undo the average
            loss = loss * self.accelerator.num_processes
        return (loss, None) if return_outputs else loss

    def measure_once(self):
        if self.memory is None:
            self.memory = sharding.measured_bytes(self.model, self.optimizer, self.is_deepspeed_enabled)

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        # measured once, after the first step and before the gradients are cleared
        optimizer.register_step_post_hook(lambda *_: self.measure_once())
        return optimizer

    def save_model(self, output_dir=None, _internal_call=False):
        if not self.is_fsdp_enabled:
            return super().save_model(output_dir, _internal_call)
        # the whole model, gathered to the main process (with LoRA only what is trained: the adapters
        # and the head, since the frozen base is --model's)
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=self.lora.enabled)
        self._save(output_dir or self.args.output_dir, get_model_state_dict(self.model, options=options))

    def _save(self, output_dir=None, state_dict=None):
        if not self.args.should_save:  # one writer under several processes
            return
        output_dir = output_dir or self.args.output_dir
        self.accelerator.unwrap_model(self.model).save_pretrained(output_dir, self.processing_class,
                                                                  state_dict=state_dict)

    def _save_optimizer_and_scheduler(self, output_dir):
        super()._save_optimizer_and_scheduler(output_dir)  # under FSDP also the sharded model, each process its part
        if self._staging:
            checkpoints.crash_point(Path(output_dir).name)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        if self.is_fsdp_enabled:  # the sharded states, each process its part
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
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
    save the final model to --out (LoRA: merged into an ordinary checkpoint unless --lora-save adapters)."""
    start = args.resume_from_checkpoint  # an explicit checkpoint folder
    if args.resume and start is None:
        start = checkpoints.resume_point(args.output_dir, TRAINER_STATE_NAME, trainer.is_world_process_zero())
    result = trainer.train(resume_from_checkpoint=str(start) if start else None)
    trainer.save_model(args.output_dir)
    trainer.accelerator.wait_for_everyone()
    if trainer.lora.enabled and trainer.lora.lora_save == "merged" and trainer.is_world_process_zero():
        export_merged(args.output_dir, lambda model, out: model.save_pretrained(out))
    trainer.accelerator.wait_for_everyone()
    return result


def run_summary(trainer: RecipeTrainer, **extra) -> dict:
    """What train_summary.json says of a Trainer run: the steps, every step's figures, and the parameter,
    gradient and optimizer bytes each process held (measured after the first step)."""
    from accelerate.utils import gather_object

    memory = gather_object([trainer.memory])
    steps = read_log(trainer.args.output_dir) if trainer.is_world_process_zero() else []
    losses = [s["loss"] for s in steps]
    return {**extra, "steps": trainer.state.global_step, "first_loss": losses[0] if losses else None,
            "final_loss": losses[-1] if losses else None, "log": steps, "memory_per_process": memory}


def load_reward_model(model, data: PreferenceData, mode: str, **options):
    """The reward model a preference stage starts from (`model`: TrainModelOptions)."""
    import mmreward

    kwargs = {"dtype": model.dtype, "attn_implementation": model.attn_implementation,
              "min_pixels": model.min_pixels, "max_pixels": model.max_pixels,
              "video_frames": data.video_frames, **options}
    # loaded on CPU: accelerate places it, and no process fills cuda:0 first
    return mmreward.load(model.model, mode, device="cpu", **{k: v for k, v in kwargs.items() if v is not None})


def fit(rm, data: PreferenceData, args: TrainArguments, collator, loss_fn: Callable, lora: LoraOptions = NO_LORA,
        trained=None) -> int:
    """Train `rm` on the preference data; held-out pairwise accuracy before and after (the saved model,
    loaded back); save to --out. `trained`: the module the Trainer trains (default `rm.module`)."""
    import mmreward

    from mmreward.train.lora import prepare

    records = read_preference_records(data.data)  # checked before anything else runs
    held_out = read_preference_records(data.eval_data) if data.eval_data else None
    before = pairwise_accuracy(rm, held_out, data.media_root) if held_out else None
    if before:
        print(f"held-out pairwise accuracy before: {before['accuracy']:.3f} (n={before['n']})")
    prepare(rm.module.backbone, lora, args.seed)
    trainer = RecipeTrainer(model=trained or rm.module, args=args, data_collator=collator,
                            processing_class=rm.processor, loss_fn=loss_fn, lora=lora,
                            train_dataset=PreferenceDataset(records, rm.media_options(data.media_root)))
    train_and_save(trainer, args)
    rm.module.untrained_head = False  # its head is trained now (mmreward.qwen_vl.RewardModel.untrained_head)
    summary = run_summary(trainer, before=before)
    if not trainer.is_world_process_zero():
        return 0
    after = None
    if held_out:  # the model as saved, which is what every other command will read
        saved = mmreward.load(args.output_dir, device="cpu", video_frames=rm.config.video_frames)
        after = pairwise_accuracy(saved, held_out, data.media_root)
    write_summary(args.output_dir, {**summary, "after": after})
    if after:
        print(f"held-out pairwise accuracy after: {after['accuracy']:.3f} (n={after['n']})")
    print(f"saved reward model to {args.output_dir}")
    return 0
