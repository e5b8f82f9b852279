"""`OpenClipEmbedder`: an open_clip model restored from a checkpoint file, with a given preprocessing.

    emb = OpenClipEmbedder.from_checkpoint("HPS_v2_compressed.pt", arch="ViT-H-14",
                                           transform=resize_longest_and_pad(224))
    emb.embed_images([pil])   # [n, d] raw image features (model.encode_image)
    emb.embed_texts(["a fox"])  # [m, d] raw text features (model.encode_text)

`arch` is an open_clip model name (its built-in configs: "ViT-H-14", ...) or the
path of a model-config JSON in open_clip's format (`embed_dim`, `vision_cfg`,
`text_cfg`), which is registered under the file's stem. The checkpoint is a
torch file holding the state dict, bare or under "state_dict" (the HPSv2 release
format), loaded with `weights_only=True`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch


def resize_longest_and_pad(size: int, mean=None, std=None) -> Callable:
    """HPSv2's evaluation preprocessing (tgxs002/HPSv2 hpsv2/src/open_clip/transform.py,
    `image_transform(..., resize_longest_max=True)` with `ResizeMaxSize(fill=0)`, which
    `hpsv2/img_score.py` selects through factory.py's `light_augmentation=True`; transform.py
    and factory.py read in the copies vendored by sayZhongWen/AttackHPS, arkadiPiven/mlhb_sda
    and JHLEE17/HPSv2, which agree): RGB -> tensor in [0, 1],
    bicubic resize so the longer side is `size`, zero (black) padding centred to a square,
    then CLIP normalisation (OpenAI mean/std: the laion2B-s32B-b79K ViT-H-14 config has none
    of its own). The official code pads only when it resized; an image whose longer side is
    already `size` but is not square is padded here too (the official transform would hand
    the model a non-square tensor it cannot take)."""
    import torchvision.transforms.functional as TF
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from torchvision.transforms import InterpolationMode

    mean = list(mean or OPENAI_DATASET_MEAN)
    std = list(std or OPENAI_DATASET_STD)

    def apply(image) -> torch.Tensor:
        x = TF.to_tensor(image.convert("RGB"))
        h, w = x.shape[1:]
        scale = size / float(max(h, w))
        if scale != 1.0:
            # antialias=True is torchvision's default since 0.17, what the unpinned official code runs with
            x = TF.resize(x, [round(h * scale), round(w * scale)], InterpolationMode.BICUBIC, antialias=True)
        pad_h, pad_w = size - x.shape[1], size - x.shape[2]
        x = TF.pad(x, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
        return TF.normalize(x, mean, std)

    return apply


def resolve_arch(arch: str | Path) -> str:
    """An open_clip model name; a config JSON path is registered first (under its stem)."""
    import open_clip

    path = Path(str(arch)).expanduser()
    if str(arch).endswith(".json"):
        if not path.is_file():
            raise FileNotFoundError(f"open_clip model config {str(arch)!r} not found")
        open_clip.add_model_config(path)
        return path.stem
    if str(arch) not in open_clip.list_models():
        raise ValueError(f"unknown open_clip architecture {str(arch)!r} (a name from open_clip.list_models() "
                         "or a model-config .json file)")
    return str(arch)


def load_state_dict(checkpoint: str | Path) -> dict:
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {str(checkpoint)!r} not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means: not a weights file
        raise ValueError(f"{str(checkpoint)!r} is not a torch weights file ({type(exc).__name__}: {exc})") from None
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{str(checkpoint)!r} holds no state dict (expected tensors, bare or under 'state_dict')")
    return state


class OpenClipEmbedder:
    def __init__(self, model, tokenizer, transform: Callable, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.tokenizer, self.transform = tokenizer, transform
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, arch: str | Path = "ViT-H-14", transform: Callable | None = None,
                        device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> OpenClipEmbedder:
        import open_clip

        name = resolve_arch(arch)
        state = load_state_dict(checkpoint)
        model = open_clip.create_model(name, pretrained=None)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shape mismatches raise even when not strict
            raise ValueError(f"checkpoint {str(checkpoint)!r} does not fit open_clip {name}: {exc}") from None
        if missing or unexpected:
            raise ValueError(f"checkpoint {str(checkpoint)!r} does not fit open_clip {name}: "
                             f"{len(missing)} missing keys (e.g. {missing[:3]}), "
                             f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if dtype is not None:
            model = model.to(dtype)
        size = model.visual.image_size
        size = size[0] if isinstance(size, (tuple, list)) else size
        return cls(model, open_clip.get_tokenizer(name), transform or resize_longest_and_pad(size), device)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(list(texts)).to(self.device)).float()

    def embed_images(self, images, batch_size: int = 32) -> torch.Tensor:
        from vision.clip_embed import in_batches

        return in_batches(images, batch_size, self._embed_batch)

    @torch.inference_mode()
    def _embed_batch(self, images: list) -> torch.Tensor:
        pixels = torch.stack([self.transform(im) for im in images])
        return self.model.encode_image(pixels.to(self.device, self.dtype)).float()
