"""Released reward models, loaded and run exactly as their official inference code runs them.

One module per model family, each a `mmreward.scoring.base.BaseRewardModel`:

- `videoreward`: VideoReward (KwaiVGI/VideoAlign), a Qwen2-VL with a linear head read at three
  special tokens (VQ, MQ, TA); `videoreward_checkpoint` reads its release layout (LoRA merged)
  and writes/reads the converted mmreward checkpoint; `videoalign` holds the interface facts
  of its official code (prompt, frame sampling, normalisation).
- `unifiedreward`: UnifiedReward 1.0 / 2.0 / Think (CodeGoat24/UnifiedReward), generative judges
  asked their own prompts (`unifiedreward_prompts`) and parsed by their own rules.
- `skywork`: Skywork-VL-Reward, a Qwen2.5-VL with a value head on the last token.

Each module declares its family (`FAMILY`, a `mmreward.families.Family`: directory layout,
presets, hub ids, typed options, catalog rows), listed in `mmreward.registry.FAMILIES`.
`qwen_media` feeds media to the processors the way the official scripts did through
qwen-vl-utils.
"""
