"""`mmreward clip-reward`: CLIP zero-shot (VLM-RM) rewards for rendered MuJoCo rollouts.

A thin front end: the reward, rendering and rollout logic live in `vision/`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command
from mmreward.errors import ConfigError, InputError, require

DESCRIPTION = """\
Roll out a MuJoCo environment offscreen (random or zero policy), render every
step and score the frame with the VLM-RM goal-baseline reward of a CLIP model:

  r = 1 - |(x - g) P|^2 / 2,   P = alpha d d^T/|d|^2 + (1 - alpha) I,   d = g - b

where x is the L2-normalised image embedding and g, b are the mean normalised
text embeddings of the goal and baseline prompts. alpha=0 is plain CLIP
similarity to the goal; alpha=1 keeps only the baseline->goal direction.

Writes to --out: rewards.csv and rewards.jsonl (per step, the CLIP reward beside
the env's own reward), reward_curve.png, frames/*.png and summary.json.
Rendering uses MUJOCO_GL (egl, falling back to osmesa when unset).
"""

EPILOG = """\
examples:
  mmreward clip-reward --clip tiny --env Humanoid-v5 --goal "a humanoid robot kneeling" \\
      --baseline "a humanoid robot" --alpha 0.5 --episodes 2 --max-steps 50 --out runs/kneel --textured
  mmreward clip-reward --clip openai/clip-vit-base-patch32 --goal "a humanoid robot kneeling" \\
      --baseline "a humanoid robot" --env-kwarg terminate_when_unhealthy=false --out runs/kneel-b32
"""


def _env_kwarg(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--env-kwarg: expected KEY=VALUE, got {text!r}")
    try:  # JSON values (false, 0.5, [1, 2]); anything else stays a string
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _flat(values: list) -> list[str]:
    """Repeated flags (`--goal a --goal b`) arrive as lists of lists."""
    return [v for group in values for v in (group if isinstance(group, list) else [group])]


@dataclass
class ClipRewardRunConfig:
    goal: list[str] = field(metadata={"action": "append", "help": (
        "goal prompt; repeat for several (their normalised embeddings are averaged)")})
    baseline: list[str] = field(metadata={"action": "append", "help": "baseline prompt; repeatable"})
    out: str = field(metadata={"help": "output directory"})
    clip: str = field(default="tiny", metadata={
        "help": "'tiny' (offline random CLIP), a hub id or a checkpoint dir (CLIP or SigLIP)"})
    env: str = field(default="Humanoid-v5", metadata={"help": "gymnasium env id"})
    alpha: float = field(default=0.5, metadata={"help": "goal-baseline regularisation in [0, 1]"})
    episodes: int = field(default=1, metadata={"help": "episodes to roll out"})
    max_steps: int = field(default=100, metadata={"help": "steps per episode at most"})
    textured: bool = field(default=False, metadata={
        "help": "use the textured VLM-RM humanoid (shared/data/mujoco/vlmrm-humanoid, or $MMREWARD_VLMRM_HUMANOID)"})
    seed: int = field(default=0, metadata={"help": "seed of env resets and the random policy"})
    batch_every: int | None = field(default=None, metadata={
        "help": "score frames in batches of K steps (default: one batch per episode)"})
    policy: Literal["random", "zero"] = field(default="random", metadata={"help": "action policy"})
    size: int = field(default=224, metadata={"help": "rendered frame width and height in pixels"})
    shadow_size: int = field(default=1024, metadata={
        "help": "shadow map size in pixels; 0 turns shadows off (the models' 4096 halves software-GL speed)"})
    frames: int = field(default=4, metadata={"help": "frames saved per episode"})
    env_kwarg: list[str] = field(default_factory=list, metadata={"action": "append", "help": (
        "extra env constructor option KEY=VALUE, value parsed as JSON; repeatable")})
    device: str = field(default="cpu", metadata={"help": "torch device for the CLIP model"})
    no_progress: bool = field(default=False, metadata={"help": "hide the progress bar"})


def run(cfg: ClipRewardRunConfig) -> int:
    require("mujoco", "mujoco", "offscreen MuJoCo rendering")
    require("gymnasium", "mujoco", "the MuJoCo environments")
    if cfg.clip == "tiny":
        require("open_clip", "clip", "the tiny CLIP's bundled BPE vocabulary")
    from vision.clip_reward import ClipReward, ClipRewardConfig
    from vision.rollout import RolloutConfig, run_rollouts
    from vision.rollout_report import write_report

    goal, baseline = _flat(cfg.goal), _flat(cfg.baseline)
    env_pairs = [_env_kwarg(t) for t in _flat(cfg.env_kwarg)]
    env_kwargs = dict(env_pairs)
    try:
        task = ClipRewardConfig(goal=goal, baseline=baseline, alpha=cfg.alpha)
        config = RolloutConfig(env_id=cfg.env, episodes=cfg.episodes, max_steps=cfg.max_steps,
                               policy=cfg.policy, seed=cfg.seed, batch_every=cfg.batch_every,
                               textured=cfg.textured, width=cfg.size, height=cfg.size,
                               shadow_size=cfg.shadow_size, frames_per_episode=cfg.frames, env_kwargs=env_kwargs)
        reward = ClipReward.from_pretrained(cfg.clip, task, device=cfg.device)
        result = run_rollouts(config, reward, progress=not cfg.no_progress)
        settings = dict(asdict(cfg), goal=goal, baseline=baseline, env_kwarg=[list(kv) for kv in env_pairs],
                        clip_model_type=reward.model.config.model_type)
        title = f"{cfg.env} | goal {goal} vs baseline {baseline} | alpha {cfg.alpha} | {cfg.clip}"
        summary = write_report(result, cfg.out, settings, title=title)
    except (ValueError, OSError, RuntimeError) as e:  # bad input or environment: a message, not a traceback
        raise InputError(f"error: {e}") from None
    print(f"wrote {summary['total_steps']} steps of {len(summary['episodes'])} episode(s) to {cfg.out} "
          f"({summary['steps_per_second']} steps/s)")
    return 0


COMMAND = Command(configs=(ClipRewardRunConfig,), run=run, description=DESCRIPTION, epilog=EPILOG)
