"""Small random-weight checkpoints in the released layouts of the image-generation rewards.

- a transformers CLIP directory (the CLIPScore / aesthetic backbone; PickScore_v1 is one too,
  shipped without a processor, whose processor comes from the CLIP-H checkpoint);
- an HPSv2 release file: torch.save({"state_dict": open_clip CLIP state dict}) of an open_clip
  ViT with GELU (the ViT-H-14 family), its architecture given as an open_clip model-config JSON;
- an aesthetic head: torch.save(state_dict) of a module whose `layers` are the released
  Linear/Dropout sequence (keys layers.{0,2,4,6,7}.*), built here independently of mmreward.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

TINY_OPEN_CLIP = {  # the ViT-H-14 config's shape (GELU, CLIP BPE, 77 tokens), scaled down
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    """A copy of the tiny CLIP (real CLIP BPE and image processor, random weights; built once into
    the mmreward cache, like the tiny Qwen-VL), its logit scale set to 30."""
    import shutil

    from transformers import CLIPModel

    from vision.tiny_clip import tiny_clip_path

    out = tmp_path_factory.mktemp("clip") / "ckpt"
    shutil.copytree(tiny_clip_path(), out)
    model = CLIPModel.from_pretrained(out)
    with torch.no_grad():
        model.logit_scale.fill_(math.log(30.0))  # not the init value, so a missing exp() would show
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def pickscore_dirs(tmp_path_factory, clip_dir) -> tuple[Path, Path]:
    """(model dir without a processor, as PickScore_v1 ships; processor dir)."""
    from transformers import CLIPModel

    model_dir = tmp_path_factory.mktemp("pickscore") / "PickScore_v1"
    torch.manual_seed(2)
    model = CLIPModel(CLIPModel.config_class.from_pretrained(clip_dir))
    with torch.no_grad():
        model.logit_scale.fill_(math.log(100.0))  # CLIP-H's trained scale
    model.save_pretrained(model_dir)
    return model_dir, clip_dir


@pytest.fixture(scope="session")
def hps_files(tmp_path_factory) -> tuple[Path, Path]:
    """(HPS_v2_compressed.pt, the architecture's model-config JSON)."""
    import open_clip

    root = tmp_path_factory.mktemp("hps")
    arch = root / "tiny-ViT-GELU.json"
    arch.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(arch)
    torch.manual_seed(3)
    model = open_clip.create_model(arch.stem, pretrained=None)
    ckpt = root / "HPS_v2_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    return ckpt, arch


class _ReleasedHead(torch.nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(width, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.2),
            torch.nn.Linear(128, 64), torch.nn.Dropout(0.1), torch.nn.Linear(64, 16), torch.nn.Linear(16, 1))


@pytest.fixture(scope="session")
def aesthetic_head(tmp_path_factory) -> Path:
    torch.manual_seed(4)
    head = _ReleasedHead(32)
    path = tmp_path_factory.mktemp("aesthetic") / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save(head.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> tuple[Path, list[dict]]:
    """(media root, records): random-noise 'generated images' of several sizes, 2-3 per prompt."""
    from PIL import Image

    root = tmp_path_factory.mktemp("generated")
    rng = np.random.default_rng(0)
    sizes = [(64, 64), (96, 48), (40, 120), (224, 100), (50, 50), (300, 200), (80, 80)]
    names = []
    for k, (w, h) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"g{k}.png")
        names.append(f"g{k}.png")
    records = [
        {"id": "a", "prompt": "a red fox in the snow", "candidates": [{"images": [names[0]]}, {"images": [names[1]]}]},
        {"id": "b", "prompt": "a bowl of ramen, studio light",
         "candidates": [{"images": [names[2]]}, {"images": [names[3]]}, {"images": [names[4]]}]},
        {"id": "c", "prompt": "a red fox in the snow", "candidates": [{"images": [names[5]]}, {"images": [names[6]]}]},
    ]
    return root, records

