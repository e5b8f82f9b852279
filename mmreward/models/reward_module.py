"""What the scalar and yes-token reward modules share: a transformers VLM inside an nn.Module.

The reward modules are plain `nn.Module`s (their heads and read-outs are not a
transformers architecture), but they expose the backbone's `config` and
`device` so that `transformers.Trainer` and accelerate treat them like a model,
and they save as an ordinary checkpoint directory plus `reward_config.json`.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmreward.models.config import RewardConfig
from mmreward.models.head import last_token_hidden


def model_inputs(batch) -> dict:
    """The keys a Qwen-VL `.model(...)` forward accepts (drops e.g. mm_token_type_ids on old versions)."""
    return {k: v for k, v in batch.items() if v is not None}


class BackboneRewardModule(nn.Module):
    def __init__(self, backbone, config: RewardConfig):
        super().__init__()
        self.backbone = backbone
        self.reward_config = config

    @property
    def config(self):
        """The backbone's transformers config (what Trainer and accelerate look for)."""
        return self.backbone.config

    @property
    def device(self):
        return self.backbone.device

    def last_hidden(self, batch) -> torch.Tensor:
        """Decoder hidden state at each row's last real token; `lm_head` is never applied."""
        out = self.backbone.model(**model_inputs(batch), use_cache=False)
        return last_token_hidden(out.last_hidden_state, batch["attention_mask"])

    def save_pretrained(self, directory: str | Path, processor=None, state_dict: dict | None = None) -> None:
        """An ordinary VLM checkpoint dir (config, safetensors, processor) plus reward_config.json; the
        adapters alone when the backbone has LoRA adapters (`mmreward.models.adapters`).

        `state_dict`: this module's weights when they are not its own tensors' (gathered from shards)."""
        from mmreward.models.adapters import save_backbone

        save_backbone(self.backbone, directory, part(state_dict, "backbone."))
        if processor is not None:
            processor.save_pretrained(directory)
        self.reward_config.save(directory)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs=None, activation_checkpointing_kwargs=None, **_) -> None:
        """Activation checkpointing of the backbone (what the Trainer calls for --gradient-checkpointing)."""
        from mmreward.models.backbone import enable_checkpointing

        enable_checkpointing(self.backbone, gradient_checkpointing_kwargs or activation_checkpointing_kwargs)

    activation_checkpointing_enable = gradient_checkpointing_enable

    def load_weights(self, directory: str | Path) -> None:
        """Copy the backbone weights (or adapters) saved in `directory` into this module (used to resume)."""
        from mmreward.models.adapters import has_adapters, load_adapters_strictly

        if has_adapters(self.backbone):
            load_adapters_strictly(self.backbone, directory)
        else:
            load_weights_strictly(self.backbone, directory)


def part(state_dict: dict | None, prefix: str) -> dict | None:
    """The entries of `state_dict` under `prefix`, without it (None stays None)."""
    if state_dict is None:
        return None
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def load_weights_strictly(model, directory: str | Path) -> None:
    """Copy the weights of the checkpoint in `directory` into `model`; any key that does not match
    is an error (InputError naming the keys), never a partial load.

    Through `from_pretrained`, which reads single-file and sharded checkpoints and applies
    transformers' own key mapping and weight tying; it reports missing, unexpected and
    mismatched keys instead of failing, and would otherwise leave those weights freshly
    initialised without a word. Costs a second copy of the weights in CPU memory, briefly.
    """
    from mmreward.errors import InputError

    from safetensors import SafetensorError

    try:
        fresh, info = type(model).from_pretrained(str(directory), dtype=model.dtype, output_loading_info=True)
    except (OSError, ValueError, SafetensorError) as exc:
        raise InputError(f"{directory}: cannot read the checkpoint's weights ({exc})") from None
    wrong = [f"{kind.replace('_', ' ')}: {', '.join(sorted(map(str, keys))[:5])}{' ...' if len(keys) > 5 else ''}"
             for kind in ("missing_keys", "unexpected_keys", "mismatched_keys") if (keys := info.get(kind))]
    if wrong:
        raise InputError(f"{directory}: the checkpoint does not match the model ({'; '.join(wrong)})")
    model.load_state_dict(fresh.state_dict())
