"""`mmreward convert --from videoreward DIR --out OUT`: a released checkpoint as an mmreward one."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mmreward.commands.parsing import Command
from mmreward.errors import InputError, ModelNotFoundError


@dataclass
class ConvertConfig:
    _argument_group_name = "conversion"
    _positional = ("path",)

    path: str = field(metadata={"help": "the release directory"})
    out: str = field(metadata={"help": "directory to write (must not exist or be empty)"})
    source: Literal["videoreward"] = field(default="videoreward", metadata={
        "aliases": ["--from"], "help": "layout of the release: videoreward (KwaiVGI/VideoAlign: "
                                       "model_config.json + checkpoint-*/model.pth)"})
    checkpoint_step: int | None = field(default=None, metadata={
        "help": "checkpoint-N to convert (default: the latest, as the official loader picks)"})
    base: str | None = field(default=None, metadata={
        "help": "the base model's directory (default: model_config.json's model_name_or_path)"})
    dtype: str | None = field(default=None, metadata={
        "help": "dtype of the written weights (default: model_config.json's torch_dtype, else float32)"})


def run(cfg: ConvertConfig) -> int:
    from mmreward.presets import videoreward
    from mmreward.presets.videoreward_checkpoint import is_release_dir, read_model_config

    src, out = Path(cfg.path), Path(cfg.out)
    if not is_release_dir(src):
        raise ModelNotFoundError(f"{src}: not a VideoReward release (model_config.json + checkpoint-*/model.pth)")
    if out.exists() and any(out.iterdir()):
        raise InputError(f"--out {out}: exists and is not empty")
    dtype = cfg.dtype or read_model_config(src)["model_config"].get("torch_dtype") or "float32"
    if dtype == "auto":
        dtype = "float32"
    model = videoreward.FAMILY.load(src, device="cpu", dtype=dtype, checkpoint_step=cfg.checkpoint_step,
                                    base=cfg.base)
    model.save_pretrained(out)
    print(f"wrote {out}: VideoReward with its LoRA merged ({dtype}); load it with mmreward.load({str(out)!r})",
          file=sys.stderr)
    return 0


COMMAND = Command(
    configs=(ConvertConfig,),
    run=run,
    description=("Write a released reward model as an mmreward checkpoint: an ordinary transformers "
                 "directory (LoRA merged, reward tokens in the tokenizer) plus its head and configs, "
                 "which mmreward.load scores exactly as the release."),
)
