"""A backbone with LoRA adapters (peft) as a checkpoint directory, in PEFT's own format.

Written by training with `--lora-r R --lora-save adapters`: `adapter_config.json` (its
`base_model_name_or_path` names the base checkpoint) and `adapter_model.safetensors` (keys
`base_model.model.<module>.lora_A.weight`, as `PeftModel.save_pretrained` writes them), beside the
processor and, for a reward model, `reward_config.json` and the reward head. No `config.json`:
the directory is not a model without its base. `peft.PeftModel.from_pretrained(base, DIR)` reads
it, and so does `mmreward.load(DIR)` (the base, then the adapters merged into it).
"""
from __future__ import annotations

import json
from pathlib import Path

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."


def has_adapters(model) -> bool:
    return bool(getattr(model, "peft_config", None))


def adapter_base(directory: str | Path) -> str | None:
    """The base checkpoint of an adapter directory, or None when `directory` is not one."""
    path = Path(directory)
    if not (path / ADAPTER_CONFIG).is_file() or (path / "config.json").is_file():
        return None
    from mmreward.errors import InputError

    try:
        base = json.loads((path / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path / ADAPTER_CONFIG}: not a readable adapter config ({exc})") from None
    if not base:
        raise InputError(f"{path / ADAPTER_CONFIG}: names no base model (base_model_name_or_path)")
    return base


def adapter_state_dict(model, state_dict: dict | None = None) -> dict:
    """The adapters' weights of `model` (or of its `state_dict`), keyed as PeftModel saves them."""
    from peft import get_peft_model_state_dict

    weights = get_peft_model_state_dict(model, state_dict=state_dict)
    return {PEFT_PREFIX + k: v.detach().contiguous().cpu() for k, v in weights.items()}


def save_backbone(model, directory: str | Path, state_dict: dict | None = None) -> None:
    """`model.save_pretrained(directory)`, or its adapters alone when it has LoRA adapters."""
    if not has_adapters(model):
        model.save_pretrained(directory, state_dict=None if state_dict is None else untied(model, state_dict))
        return
    from safetensors.torch import save_file

    Path(directory).mkdir(parents=True, exist_ok=True)
    save_file(adapter_state_dict(model, state_dict), Path(directory) / ADAPTER_WEIGHTS, metadata={"format": "pt"})
    model.peft_config["default"].save_pretrained(str(directory))


def untied(model, state_dict: dict) -> dict:
    """`state_dict` without the second name of a tied weight (lm_head = embed_tokens): a gathered state
    dict holds each name as its own tensor, where `save_pretrained` would have seen one shared tensor."""
    first, dropped = {}, set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in first:
            dropped.add(name)
        first.setdefault(id(param), name)
    return {k: v for k, v in state_dict.items() if k not in dropped}


def load_adapters_strictly(model, directory: str | Path) -> None:
    """Copy the adapter weights saved in `directory` into `model` (which has the same adapters):
    every adapter weight must be there and nothing else (InputError otherwise)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from mmreward.errors import InputError

    path = Path(directory) / ADAPTER_WEIGHTS
    try:
        saved = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - missing, truncated or not safetensors: the file's fault
        raise InputError(f"{path}: cannot read the adapter weights ({exc})") from None
    expected = set(adapter_state_dict(model))
    missing, unexpected = sorted(expected - set(saved)), sorted(set(saved) - expected)
    if missing or unexpected:
        raise InputError(f"{path}: the adapters do not match the model (missing: {missing[:3]}, "
                         f"unexpected: {unexpected[:3]})")
    set_peft_model_state_dict(model, {k[len(PEFT_PREFIX):]: v for k, v in saved.items()})


def merged(model, directory: str | Path):
    """`model` (the base, loaded) with the adapters of `directory` merged in: a plain transformers model."""
    from mmreward.errors import require

    require("peft", "peft", "loading a LoRA adapter checkpoint")
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(directory)).merge_and_unload()
