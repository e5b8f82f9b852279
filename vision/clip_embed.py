"""`ClipEmbedder`: text and image embeddings of any transformers CLIP/SigLIP dual encoder.

    emb = ClipEmbedder.from_pretrained("openai/clip-vit-base-patch32")
    emb.embed_images([pil_image])   # [n, d] projected image embeddings (not normalised)
    emb.embed_texts(["a red fox"])  # [m, d] projected text embeddings (not normalised)

The embeddings are returned raw: each reward applies its own published formula
(normalisation, logit scale, clipping) on top, where the reader can see it.
`source` is `tiny` (the offline tiny CLIP), a local checkpoint directory or a hub
id; `processor_source` may differ from it (PickScore's weights ship without the
processor, which comes from the CLIP-H checkpoint it was fine-tuned from).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vision.tiny_clip import TINY_CLIP_NAME, tiny_clip_path


def features(output) -> torch.Tensor:
    """transformers >= 5 returns a ModelOutput whose pooler_output is the projected embedding."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def as_image(frame):
    """PIL images pass through; arrays become writable HxWx3 arrays (torch warns on read-only ones)."""
    if hasattr(frame, "convert"):
        return frame
    frame = np.asarray(frame)
    return frame if frame.flags.writeable else frame.copy()


def resolve_checkpoint(name_or_path: str | Path) -> str:
    """`tiny` -> the cached tiny CLIP dir; an existing dir must be a checkpoint; anything else is a hub id."""
    name = str(name_or_path)
    if name == TINY_CLIP_NAME:
        return str(tiny_clip_path())
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a checkpoint directory: it has no config.json")
        return str(path)
    if path.exists() or name.startswith((".", "/", "~")):
        raise FileNotFoundError(f"CLIP checkpoint {name!r} is not a directory")
    return name


def load_dual_encoder(source: str, processor_source: str | None = None, dtype: torch.dtype | None = None):
    """(model, processor) from resolved sources; refuses checkpoints that are not dual encoders."""
    from transformers import AutoModel, AutoProcessor

    processor_source = processor_source or source
    try:
        model = AutoModel.from_pretrained(source, **({"dtype": dtype} if dtype is not None else {}))
        processor = AutoProcessor.from_pretrained(processor_source)
    except OSError as e:
        raise OSError(f"cannot load CLIP checkpoint {source!r} (processor {processor_source!r}): not 'tiny', "
                      f"not a local checkpoint dir, and not loadable as a hub id (offline without a cached "
                      f"copy?): {e}") from e
    if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
        raise ValueError(f"checkpoint {source!r} (model_type {model.config.model_type!r}) is not a CLIP/SigLIP "
                         "dual encoder: it lacks get_image_features / get_text_features")
    return model, processor


def in_batches(images, batch_size: int, embed) -> torch.Tensor:
    """`embed(list of images) -> [k, d]` over `images` in chunks of `batch_size`, concatenated."""
    images = list(images)
    if not images:
        raise ValueError("embed_images needs at least one image")
    return torch.cat([embed(images[s:s + batch_size]) for s in range(0, len(images), batch_size)])


class ClipEmbedder:
    """A frozen CLIP/SigLIP model and its processor: PIL images / arrays and strings in, embeddings out."""

    def __init__(self, model, processor, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = torch.device(device)
        # SigLIP was trained on max_length-padded text; CLIP pools at EOS, so padding is harmless there
        self.text_padding = "max_length" if model.config.model_type.startswith("siglip") else True

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, processor: str | Path | None = None,
                        device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> ClipEmbedder:
        source = resolve_checkpoint(name_or_path)
        processor_source = resolve_checkpoint(processor) if processor is not None else None
        return cls(*load_dual_encoder(source, processor_source, dtype), device=device)

    @property
    def logit_scale(self) -> torch.Tensor:
        """exp(logit_scale): the learned temperature of the contrastive loss."""
        return self.model.logit_scale.detach().float().exp()

    @torch.inference_mode()
    def embed_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.processor.tokenizer(list(texts), padding=self.text_padding, truncation=True,
                                          return_tensors="pt").to(self.device)
        return features(self.model.get_text_features(**tokens)).float()

    def embed_images(self, images, batch_size: int = 32) -> torch.Tensor:
        """Embeddings [n, d] of images (PIL images or HxWx3 uint8 arrays), `batch_size` per forward pass."""
        return in_batches(images, batch_size, self._embed_batch)

    @torch.inference_mode()
    def _embed_batch(self, images: list) -> torch.Tensor:
        pixels = self.processor.image_processor(images=[as_image(f) for f in images], return_tensors="pt")
        pixels = pixels["pixel_values"].to(self.device, self.model.dtype)
        return features(self.model.get_image_features(pixel_values=pixels)).float()

def paired_cosine(embedder, texts: list[str], images: list, batch_size: int = 32) -> torch.Tensor:
    """cos(image_i, text_i) for each pair, from any embedder with `embed_texts` / `embed_images`
    (`ClipEmbedder`, `OpenClipEmbedder`). Each distinct text is embedded once."""
    import torch.nn.functional as F

    if len(texts) != len(images):
        raise ValueError(f"{len(texts)} texts for {len(images)} images")
    row_of = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    text_emb = F.normalize(embedder.embed_texts(list(row_of)), dim=-1)
    image_emb = F.normalize(embedder.embed_images(images, batch_size), dim=-1)
    rows = torch.tensor([row_of[t] for t in texts], device=text_emb.device)
    return (image_emb * text_emb[rows]).sum(-1)
