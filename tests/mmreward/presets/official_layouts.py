"""Small random-weight checkpoints in the released models' own layouts, built independently.

Each builder writes what the official release holds, with the official class structure and
weight names, and returns what a test needs to recompute the official numbers by itself:
- VideoReward (KwaiVGI/VideoAlign): a Qwen2-VL base directory (`model_name_or_path`), and the
  release `model_config.json` + `checkpoint-N/model.pth` (the whole `PeftModel.state_dict()` of a
  transformers-4.45-shaped `Qwen2VLForConditionalGeneration` + `rm_head`, unmerged LoRA with
  non-zero B on every decoder Linear, as train_reward.py's `find_target_linear_names` with
  lora_namespan_exclude ["lm_head", "rm_head", "embed_tokens", "visual"] picks them) +
  `checkpoint-N/tokenizer/` (the trainer's tokenizer copy with the three reward tokens);
- Skywork-VL-Reward: a Qwen2.5-VL directory + `value_head.safetensors` (`v_head.summary.*`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mmreward.models.tiny import build_family_model

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
VIDEOS = (SHARED / "videos" / "videoalign-examples").resolve()
IMAGES = (SHARED / "images").resolve()
# the two small real clips (384 px high): 60 frames at 16 fps and 144 frames at 24 fps
SMALL_CLIPS = ("example_3_B.mp4", "example_2_A.mp4")


needs_data = pytest.mark.skipif(not VIDEOS.is_dir(), reason=f"shared data absent ({VIDEOS})")


REWARD_TOKENS = ["<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>"]  # train_reward.py
LORA_EXCLUDE = ["lm_head", "rm_head", "embed_tokens", "visual"]
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)[:, None, None]
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)[:, None, None]
INFERENCE_CONFIG = {"VQ_mean": 0.31, "VQ_std": 1.7, "MQ_mean": -0.42, "MQ_std": 0.8,
                    "TA_mean": 0.05, "TA_std": 2.5}


class Official445(nn.Module):
    """The module tree of VideoAlign's Qwen2VLRewardModelBT under transformers 4.45: `visual`,
    `model` (the decoder: embed_tokens, layers, norm), `lm_head`, `rm_head` (trainer.py)."""

    def __init__(self, hf_model, output_dim: int):
        super().__init__()
        lm = hf_model.model.language_model
        self.visual = hf_model.model.visual
        self.model = nn.Module()
        self.model.embed_tokens, self.model.layers, self.model.norm = lm.embed_tokens, lm.layers, lm.norm
        self.lm_head = hf_model.lm_head
        self.rm_head = nn.Linear(lm.config.hidden_size, output_dim, bias=False)


def build_videoreward_release(root: Path, output_dim: int = 1, seed: int = 0, lora_r: int = 4,
                              lora_alpha: int = 8, max_frame_pixels: int = 128 * 28 * 28,
                              inference_config: dict | None = INFERENCE_CONFIG, step: int = 7) -> dict:
    """Write base/ and release/ under `root`; return the live objects that made them:
    {"base", "release", "model" (5.x model whose decoder Linears now carry the unmerged LoRA),
     "peft", "rm_head", "processor" (base processor + reward tokens), "lora_scaling"}."""
    from peft import LoraConfig, get_peft_model

    base, release = root / "base", root / "release"
    model, processor = build_family_model("qwen2_vl", seed)
    model.save_pretrained(base)
    processor.save_pretrained(base)
    processor.tokenizer.padding_side = "right"
    processor.tokenizer.add_special_tokens({"additional_special_tokens": REWARD_TOKENS})
    model.resize_token_embeddings(len(processor.tokenizer))  # train_reward.py, after adding the tokens

    official = Official445(model, output_dim)
    torch.manual_seed(seed + 1)
    nn.init.normal_(official.rm_head.weight, std=0.5)
    targets = [name for name, m in official.named_modules()
               if isinstance(m, (nn.Linear, nn.Embedding)) and not any(x in name for x in LORA_EXCLUDE)]
    peft = get_peft_model(official, LoraConfig(target_modules=targets, r=lora_r, lora_alpha=lora_alpha,
                                               lora_dropout=0.05, bias="none"))
    for name, param in peft.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; a trained adapter's is not
            nn.init.normal_(param, std=0.2)
    peft.eval()
    ckpt = release / f"checkpoint-{step}"
    (ckpt / "tokenizer").mkdir(parents=True)
    torch.save(peft.state_dict(), ckpt / "model.pth")
    processor.tokenizer.save_pretrained(ckpt / "tokenizer")
    # an older, worse checkpoint: the latest must be the one loaded
    older = release / "checkpoint-2"
    older.mkdir()
    torch.save({k: torch.zeros_like(v) for k, v in peft.state_dict().items()}, older / "model.pth")
    config = {
        "data_config": {"meta_data": "/path/to/train.csv", "data_dir": "/path/to/videos",
                        "meta_data_test": None, "max_frame_pixels": max_frame_pixels, "num_frames": None,
                        "fps": 2.0, "p_shuffle_frames": 0.0, "p_color_jitter": 0.0,
                        "eval_dim": ["VQ", "MQ", "TA"], "prompt_template_type": "detailed_special",
                        "add_noise": False, "sample_type": "uniform", "use_tied_data": True},
        "training_args": {"output_dim": output_dim, "bf16": True, "learning_rate": 2e-6},
        "model_config": {"model_name_or_path": str(base), "model_revision": "main",
                         "output_dim": output_dim, "use_special_tokens": True, "freeze_vision_tower": True,
                         "freeze_llm": False, "tune_merger": True, "torch_dtype": "float32",
                         "reward_token": "special", "loss_type": "btt"},
        "peft_lora_config": {"lora_enable": True, "vision_lora": False, "lora_r": lora_r,
                             "lora_alpha": lora_alpha, "lora_dropout": 0.05, "lora_target_modules": None,
                             "lora_namespan_exclude": LORA_EXCLUDE, "lora_modules_to_save": None,
                             "lora_task_type": "CAUSAL_LM", "use_rslora": False, "num_lora_modules": -1},
    }
    if inference_config is not None:
        config["inference_config"] = inference_config
    (release / "model_config.json").write_text(json.dumps(config, indent=4))
    return {"base": base, "release": release, "model": model, "peft": peft, "rm_head": official.rm_head,
            "processor": processor, "lora_scaling": lora_alpha / lora_r}


def build_skywork(root: Path, seed: int = 0) -> dict:
    """A Qwen2.5-VL checkpoint (a copy of the tiny one) + value_head.safetensors as
    Skywork-VL-Reward ships it (the trl ValueHead's `v_head.summary` Linear(hidden, 1), bf16)."""
    import shutil

    from safetensors.torch import save_file
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    from mmreward.models.tiny import tiny_path

    shutil.copytree(tiny_path(), root, dirs_exist_ok=True)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(root).eval()
    processor = AutoProcessor.from_pretrained(root)
    hidden = model.config.text_config.hidden_size
    torch.manual_seed(seed + 1)
    head = {"v_head.summary.weight": (torch.randn(1, hidden) * 0.3).to(torch.bfloat16),
            "v_head.summary.bias": torch.tensor([0.25], dtype=torch.bfloat16)}
    save_file(head, str(root / "value_head.safetensors"))
    return {"dir": root, "model": model, "processor": processor, "head": head}


def official_pixels(frames, mean=CLIP_MEAN, std=CLIP_STD, patch: int = 14) -> tuple[torch.Tensor, list[int]]:
    """transformers 4.4x-4.5x Qwen2VLImageProcessor on frames (T, C, H, W) with values 0..255 (a PIL
    image as one frame): rescale 1/255, normalise, a single image repeated to the 2-frame temporal
    patch, then 2-frame x patch-px patches in 2x2 merge order."""
    if not isinstance(frames, torch.Tensor):  # a PIL image
        frames = torch.from_numpy(np.array(frames.convert("RGB"))).permute(2, 0, 1)[None]
    x = frames.numpy().astype(np.float32) * np.float32(1 / 255)
    x = ((x - mean) / std).astype(np.float32)
    if x.shape[0] == 1:
        x = np.tile(x, (2, 1, 1, 1))
    t, c, h, w = x.shape
    gt, gh, gw = t // 2, h // patch, w // patch
    x = x.reshape(gt, 2, c, gh // 2, 2, patch, gw // 2, 2, patch).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return torch.from_numpy(x.reshape(gt * gh * gw, c * 2 * patch * patch).copy()), [gt, gh, gw]
