"""`mmreward train STAGE`: train a reward model or the video agent.

Each stage is a recipe (`mmreward/train/`) whose options are config dataclasses: the shared
model options, the stage's data, its config (a `transformers.TrainingArguments` subclass where a
Trainer runs it) and, for the agent stages, the agent settings. Several processes: `accelerate
launch -m mmreward.cli train ...` or `torchrun --nproc_per_node N -m mmreward.cli train ...` (DDP).
"""

SUBCOMMANDS = {
    "bt": ("mmreward.commands.train.stages:BT", "Bradley-Terry training of the scalar reward head"),
    "sft": ("mmreward.commands.train.sft", "supervised fine-tuning: yes-token answers or agent traces"),
    "rft": ("mmreward.commands.train.stages:RFT", "rejection-sampling fine-tuning of the video agent"),
    "grpo": ("mmreward.commands.train.stages:GRPO", "GRPO on multi-turn video-agent rollouts"),
}
