"""The official `Qwen2VLRewardModelBT`, shared by VideoReward and HPSv3 releases.

Both were trained with one model class, a transformers-4.45 `Qwen2VLForConditionalGeneration`
plus an `rm_head` (KwaiVGI/VideoAlign trainer.py; MizzenAI/HPSv3 hpsv3/model/qwen2vl_trainer.py),
and their checkpoints hold that class's whole state dict in 4.45 module names. Its forward:
- embeds the tokens and scatters the vision features into the image / video placeholder rows
  (`pixel_values.type(self.visual.get_dtype())` first);
- runs the decoder with NO position ids, so transformers numbers the tokens 0..L-1 in all three
  M-RoPE sections (the vision tokens get no 2-D positions);
- applies `rm_head` and keeps the rows at the special reward tokens (`reward_token="special"`:
  exactly one row per special token per prompt, `view(batch_size, ...)`).
"""
from __future__ import annotations

import re

from mmreward.errors import ConfigError, RecordError

# 4.45 Qwen2VLForConditionalGeneration module names -> transformers 5 names
RENAMES = ((re.compile(r"^visual\."), "model.visual."),
           (re.compile(r"^model\.(?!visual\.|language_model\.)"), "model.language_model."))


def current_names(state: dict) -> tuple[dict, dict]:
    """A release state dict -> (backbone state dict in transformers 5 names, rm_head state dict)."""
    backbone, head = {}, {}
    for key, value in state.items():
        if key.startswith("rm_head."):
            head[key[len("rm_head."):]] = value
            continue
        for pattern, target in RENAMES:
            key = pattern.sub(target, key)
        backbone[key] = value
    return backbone, head


def release_backbone(family: str, base: str, backbone_state: dict, vocab: int, dtype, device,
                     attn_implementation: str | None = None):
    """The base config's Qwen2-VL, its embeddings resized to the tokenizer (the reward tokens added,
    as both trainers' `create_model_and_processor` do), every weight from the release (built
    without initialising weights, then assigned)."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, Qwen2VLForConditionalGeneration

    try:
        config = AutoConfig.from_pretrained(base)
    except OSError as exc:
        raise ConfigError(f"{family} base {base!r}: cannot load its config ({exc}); pass base=DIR") from None
    if config.model_type != "qwen2_vl":
        raise ConfigError(f"{family} base {base!r} is {config.model_type!r}, not qwen2_vl")
    with init_empty_weights(include_buffers=False):
        model = Qwen2VLForConditionalGeneration(config)
    embed = backbone_state.get("model.language_model.embed_tokens.weight")
    if embed is None:
        raise ConfigError(f"the {family} checkpoint has no model.embed_tokens.weight: not a Qwen2-VL reward model")
    if embed.shape[0] != vocab:
        raise ConfigError(f"the {family} checkpoint's embedding has {embed.shape[0]} rows, the tokenizer (base + "
                          f"reward tokens) {vocab}: the base does not match the checkpoint")
    model.resize_token_embeddings(vocab, mean_resizing=False)
    state = {k: v.to(dtype) for k, v in backbone_state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ConfigError(f"the {family} checkpoint does not fit the base's Qwen2-VL: missing {sorted(missing)[:5]}, "
                          f"unexpected {sorted(unexpected)[:5]}")
    if tied:
        model.tie_weights()
    if attn_implementation:
        model.set_attn_implementation(attn_implementation)
    return model.to(device).eval()


def _scatter(embeds, ids, features, token_id):
    import torch

    feats = torch.cat(list(features.pooler_output)).to(embeds.device, embeds.dtype)
    mask = (ids == token_id).unsqueeze(-1).expand_as(embeds)
    return embeds.masked_scatter(mask, feats)


def hidden_states(backbone, batch) -> torch.Tensor:
    """[B, L, H] decoder states as `Qwen2VLRewardModelBT.forward` computes them (no position ids)."""
    inner, config = backbone.model, backbone.config
    ids = batch["input_ids"]
    embeds = inner.get_input_embeddings()(ids)
    if batch.get("pixel_values") is not None:
        feats = inner.get_image_features(batch["pixel_values"], batch["image_grid_thw"], return_dict=True)
        embeds = _scatter(embeds, ids, feats, config.image_token_id)
    if batch.get("pixel_values_videos") is not None:
        feats = inner.get_video_features(batch["pixel_values_videos"], batch["video_grid_thw"], return_dict=True)
        embeds = _scatter(embeds, ids, feats, config.video_token_id)
    return inner.language_model(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                                use_cache=False).last_hidden_state


def special_rows(ids: torch.Tensor, hidden: torch.Tensor, special_ids: list[int]) -> torch.Tensor:
    """[B, len(special_ids), H]: the rows at the reward tokens, each of which a prompt must hold once."""
    import torch

    special = torch.isin(ids, torch.tensor(special_ids, device=ids.device))
    counts = special.sum(dim=1)
    if (counts != len(special_ids)).any():
        raise RecordError(f"the prompt must hold each reward token once; found {counts.tolist()} of "
                          f"{len(special_ids)} (does the prompt text contain one?)")
    return hidden[special].view(ids.shape[0], len(special_ids), -1)
