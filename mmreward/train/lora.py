"""LoRA for every training stage (peft), and which weights a stage trains.

`--lora-r R` (0: off) puts LoRA adapters on the language model's attention and MLP projections
(`--lora-target-modules`) and freezes everything else of the backbone; a scalar reward head is
trained in full beside them. The vision tower is frozen by default with LoRA (as the released
judges were trained: VideoReward's LoRA on Qwen2-VL, BaseReward), trained in full without it
(`--freeze-vision` sets either way; with LoRA and an unfrozen tower the tower's blocks get
adapters too). GRPO's KL reference is the same model with its adapters disabled: no second copy.

Checkpoints hold the adapters (`mmreward.models.adapters`: PEFT's format); the final model in
--out is merged into an ordinary checkpoint (`--lora-save merged`, the default) or kept as
adapters (`--lora-save adapters`). `mmreward.load` reads both.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmreward.errors import ConfigError, require

# Qwen2-VL / Qwen2.5-VL / Qwen3-VL decoder layers (transformers: model.language_model.layers.N.*)
LANGUAGE_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# their vision blocks (model.visual.blocks.N.*): attention qkv/proj; MLP fc1/fc2 (Qwen2-VL),
# gate/up/down_proj (Qwen2.5-VL), linear_fc1/linear_fc2 (Qwen3-VL)
VISION_TARGETS = ["qkv", "proj", "fc1", "fc2", "gate_proj", "up_proj", "down_proj", "linear_fc1", "linear_fc2"]


@dataclass
class LoraOptions:
    """LoRA adapters instead of full fine-tuning, and the frozen parts."""

    _argument_group_name = "lora"

    lora_r: int = field(default=0, metadata={"help": "LoRA rank (0: full fine-tuning, no adapters)"})
    lora_alpha: float | None = field(default=None, metadata={"help": "LoRA alpha. Default: 2 x rank"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the adapters' input"})
    lora_target_modules: list[str] = field(default_factory=lambda: list(LANGUAGE_TARGETS), metadata={
        "help": "linear layers of the language model that get adapters"})
    freeze_vision: bool | None = field(default=None, metadata={
        "help": "keep the vision tower's weights fixed. Default: true with LoRA, false without",
        "nargs": "?", "const": True})
    lora_save: Literal["merged", "adapters"] = field(default="merged", metadata={
        "help": "the final model in --out: adapters merged into an ordinary checkpoint, or the adapters "
                "alone (PEFT format; its base is --model). Checkpoints always hold the adapters"})

    def __post_init__(self):
        if self.lora_r < 0:
            raise ConfigError(f"--lora-r must be 0 (off) or a positive rank, got {self.lora_r}")
        if self.lora_alpha is not None and not self.lora_alpha > 0:
            raise ConfigError(f"--lora-alpha must be positive, got {self.lora_alpha}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"--lora-dropout must be in [0, 1), got {self.lora_dropout}")

    @property
    def enabled(self) -> bool:
        return self.lora_r > 0

    @property
    def vision_frozen(self) -> bool:
        return self.enabled if self.freeze_vision is None else self.freeze_vision

    def peft_config(self):
        """The peft LoraConfig: adapters on the language model's layers (and the vision blocks when the
        tower is trained), matched by a regular expression on the module names."""
        require("peft", "peft", "LoRA training (--lora-r)")
        from peft import LoraConfig

        names = "|".join(self.lora_target_modules)
        pattern = rf".*language_model\.layers\.\d+\..*\.({names})"
        if not self.vision_frozen:
            pattern = rf"(?:{pattern})|(?:.*visual\.blocks\.\d+\..*\.({'|'.join(VISION_TARGETS)}))"
        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha or 2 * self.lora_r,
                          lora_dropout=self.lora_dropout, target_modules=pattern, bias="none")


NO_LORA = LoraOptions()


def vision_tower(model):
    """The vision encoder of a Qwen-VL model (transformers 5: model.model.visual), or None."""
    inner = getattr(model, "model", model)
    return getattr(inner, "visual", None) or getattr(model, "visual", None)


def prepare(backbone, lora: LoraOptions, seed: int = 0):
    """Put adapters on `backbone` (in place) and freeze what the options freeze; returns it.

    The adapters' initialisation is seeded: every process of a run (FSDP shards each process's own
    copy) and every rerun starts from the same adapters."""
    import torch

    if lora.enabled:
        from peft import inject_adapter_in_model

        config = lora.peft_config()
        config.base_model_name_or_path = backbone.name_or_path  # what the adapter checkpoints name as base
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            inject_adapter_in_model(config, backbone)  # freezes every base weight
        if not any(p.requires_grad for p in backbone.parameters()):
            raise ConfigError(f"--lora-target-modules {' '.join(lora.lora_target_modules)}: no layer of "
                              f"{type(backbone).__name__} matches")
    if lora.vision_frozen and vision_tower(backbone) is not None:
        vision_tower(backbone).requires_grad_(False)
    return backbone


@contextmanager
def adapters_disabled(model):
    """The base model's outputs for the duration (GRPO's reference policy)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield model
    finally:
        for layer in layers:
            layer.enable_adapters(True)


def merged_state_dict(model) -> dict:
    """`model`'s weights with its LoRA adapters merged in, under the base model's names (what an
    inference engine or a plain checkpoint of the base architecture holds); the model is unchanged."""
    import torch
    from peft.tuners.lora import LoraLayer

    deltas = {f"{name}.base_layer.weight": module for name, module in model.named_modules()
              if isinstance(module, LoraLayer)}
    state = {}
    for name, tensor in model.state_dict().items():
        if ".lora_" in name:
            continue
        layer = deltas.get(name)
        if layer is not None and not layer.disable_adapters:
            with torch.no_grad():
                delta = sum(layer.get_delta_weight(a) for a in layer.active_adapters if a in layer.lora_A)
                tensor = (tensor.float() + delta.float()).to(tensor.dtype)
        state[name.replace(".base_layer.", ".")] = tensor.detach()
    return state


class MergedWeights:
    """A LoRA model as an engine's `load_weights` reads it (`state_dict()`): adapters merged in."""

    def __init__(self, model):
        self.model = model

    def state_dict(self) -> dict:
        return merged_state_dict(self.model)


def export_merged(directory: str | Path, save) -> None:
    """Replace the adapter checkpoint in `directory` by an ordinary one: its base with the adapters
    merged in (`mmreward.models.adapters.merged`), written by `save(backbone, directory)`."""
    from mmreward.models.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapter_base, merged
    from mmreward.models.backbone import model_class_for, resolve_name

    base = resolve_name(adapter_base(directory))
    model = merged(model_class_for(base).from_pretrained(base), directory)
    save(model, directory)
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        (Path(directory) / name).unlink()
