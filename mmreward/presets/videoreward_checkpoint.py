"""VideoReward's checkpoint layouts: the release (`model_config.json` + `checkpoint-*/model.pth`,
a PEFT state dict with unmerged LoRA) and the converted mmreward checkpoint (`convert`).

The release holds the whole `PeftModel.state_dict()` of the official model class
(`Qwen2VLRewardModelBT`, a transformers-4.45 `Qwen2VLForConditionalGeneration` plus `rm_head`),
saved by the official trainer (trainer.py `_save` with save_full_model: `torch.save(state_dict,
"model.pth")`) and read by utils.py `load_model_from_checkpoint` with a strict `load_state_dict`.
Here the LoRA deltas are merged into their base weights (W + scaling * B @ A, scaling =
lora_alpha / r, or / sqrt(r) with rsLoRA: peft's LoraLayer) and the 4.45 module names are mapped
to today's (`visual.` -> `model.visual.`, `model.` -> `model.language_model.`).
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from mmreward.errors import ConfigError, ModelNotFoundError
from mmreward.presets import reward_bt

MODEL_CONFIG = "model_config.json"  # the release's configs (train_reward.py save_configs_to_json)
CONVERTED_CONFIG = "videoreward_config.json"  # mmreward's converted checkpoint
HEAD_FILE = "rm_head.safetensors"
PEFT_PREFIX = "base_model.model."

def is_release_dir(path: Path) -> bool:
    return (path / MODEL_CONFIG).is_file() and any(path.glob("checkpoint-*/model.pth"))


def is_converted_dir(path: Path) -> bool:
    return (path / CONVERTED_CONFIG).is_file() and (path / "config.json").is_file()


def checkpoint_dir(path: Path, step: int | None = None) -> Path:
    """utils.py load_model_from_checkpoint: the highest `checkpoint-N`, or step N when it exists
    (the official code falls back to the latest when it does not; so does this, saying so)."""
    found = {}
    for d in path.glob("checkpoint-*"):
        suffix = d.name.split("-")[-1]
        if suffix.isdigit() and (d / "model.pth").is_file():
            found[int(suffix)] = d
    if not found:
        raise ModelNotFoundError(f"{path}: no checkpoint-*/model.pth")
    if step is not None and step not in found:
        import logging

        logging.getLogger(__name__).warning("%s: checkpoint-%s not found, using the latest (checkpoint-%s)",
                                            path, step, max(found))
    return found[step] if step in found else found[max(found)]


def read_model_config(path: Path) -> dict:
    try:
        cfg = json.loads((path / MODEL_CONFIG).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path / MODEL_CONFIG}: cannot read ({exc})") from None
    for section in ("data_config", "model_config", "peft_lora_config"):
        if not isinstance(cfg.get(section), dict):
            raise ConfigError(f"{path / MODEL_CONFIG}: missing section {section!r}")
    return cfg


def lora_scaling(peft_config: dict) -> float:
    r, alpha = peft_config.get("lora_r", 16), peft_config.get("lora_alpha", 32)  # utils.py PEFTLoraConfig
    return alpha / math.sqrt(r) if peft_config.get("use_rslora") else alpha / r


def merge_lora(state: dict, scaling: float) -> dict:
    """A PeftModel state dict -> the plain model's (official 4.45 names), LoRA merged in float32."""
    import torch

    plain, lora = {}, {}
    for key, value in state.items():
        if not key.startswith(PEFT_PREFIX):
            raise ConfigError(f"model.pth: key {key!r} is not a PEFT model's ({PEFT_PREFIX}...)")
        key = key[len(PEFT_PREFIX):]
        m = re.match(r"^(.*)\.lora_([AB])\.default\.weight$", key)
        if m:
            lora.setdefault(m.group(1), {})[m.group(2)] = value
        elif ".original_module." in key:
            continue  # modules_to_save keeps the trained copy below
        elif "lora_" in key:
            raise ConfigError(f"model.pth: unsupported adapter weight {key!r} (only LoRA on Linear layers)")
        else:
            plain[key.replace(".base_layer.", ".").replace(".modules_to_save.default.", ".")] = value
    for module, ab in lora.items():
        weight = f"{module}.weight"
        if set(ab) != {"A", "B"} or weight not in plain:
            raise ConfigError(f"model.pth: LoRA of {module!r} is incomplete or has no base weight")
        base = plain[weight]
        delta = ab["B"].float() @ ab["A"].float()
        if delta.shape != base.shape:
            raise ConfigError(f"model.pth: LoRA of {module!r} has shape {tuple(delta.shape)}, "
                              f"its weight {tuple(base.shape)}")
        plain[weight] = (base.float() + scaling * delta).to(base.dtype)
    return plain


def current_names(state: dict) -> tuple[dict, dict]:
    """(backbone state dict in transformers 5 names, rm_head state dict)."""
    backbone, head = reward_bt.current_names(state)
    if "weight" not in head:
        raise ConfigError("model.pth has no rm_head.weight: not a VideoReward checkpoint")
    return backbone, head


def load_release_state(path: Path, step: int | None, peft_config: dict) -> tuple[dict, dict]:
    import torch

    ckpt = checkpoint_dir(path, step) / "model.pth"
    state = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    if not peft_config.get("lora_enable", False):
        # no LoRA: the file is the plain model's state dict (model.load_state_dict on the model itself)
        return current_names(dict(state))
    return current_names(merge_lora(state, lora_scaling(peft_config)))


def resolve_base(path: Path, name: str, base: str | None = None) -> str:
    """Where the backbone's config and processor come from: `base` if given, else model_config's
    model_name_or_path (train_reward.py loads both from it): a directory (as given, or relative
    to the release directory) or a hub id in the local cache."""
    if base:
        return os.path.expanduser(base)
    for candidate in (Path(os.path.expanduser(name)), path / name):
        if candidate.is_dir():
            return str(candidate)
    return name
