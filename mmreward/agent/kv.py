"""Prefill and decode over one conversation, reusing the KV cache across turns.

Each turn the whole windowed context is rendered and tokenised again (the same
way training does), compared with the tokens whose keys/values are in the
cache, and only the part after the longest common prefix is run through the
model. When the memory window has replaced an earlier tool result's images by a
placeholder, the common prefix ends there: the cache is cropped back to that
position and everything after it is re-prefilled. Images are never split: a cut
inside an image's tokens moves to the image's start, and an image whose pixels
changed invalidates the cache from its first token.

Positions are Qwen2.5-VL's 3-D M-RoPE ids, computed by the model's own
`get_rope_index` over the full sequence and sliced, so a reused prefix and a
from-scratch run see identical positions. Only the last position goes through
the output projection: the 152k-row vocabulary matrix is never applied to the
prompt.
"""
from __future__ import annotations

import copy

import torch

from mmreward.models.cache import cache_kwargs

from .frames import images_of
from .turns import render


class CachedDecoder:
    def __init__(self, model, processor, reuse: bool = True):
        self.model, self.processor, self.reuse = model, processor, reuse
        self.cache = None
        self.ids: list[int] = []  # tokens whose keys/values are in the cache
        self.image_spans: list[tuple[int, int, object]] = []  # (start, end, key) of cached images
        self.next_pos = 0  # M-RoPE position of the next text token

    def fork(self) -> "CachedDecoder":
        """An independent decoder starting from this one's cache (G rollouts sharing a prompt)."""
        other = copy.copy(self)
        other.cache = copy.deepcopy(self.cache)
        other.ids, other.image_spans = list(self.ids), list(self.image_spans)
        return other

    # -- prompt -------------------------------------------------------------------------------
    def encode(self, messages: list[dict]):
        return encode_messages(self.processor, messages)

    @torch.no_grad()
    def prefill(self, messages: list[dict]) -> tuple[torch.Tensor, int]:
        """Logits for the first token of the next assistant turn, and how many tokens were prefilled."""
        batch, keys = self.encode(messages)
        ids = batch["input_ids"][0].tolist()
        grid = batch.get("image_grid_thw")
        merge = self.model.config.vision_config.spatial_merge_size
        spans = _image_spans(ids, grid, self.model.config.image_token_id, merge * merge, keys)
        cut = self._reusable(ids, spans) if self.reuse and self.cache is not None else 0
        positions, _ = self.model.model.get_rope_index(
            batch["input_ids"], mm_token_type_ids=batch["mm_token_type_ids"], image_grid_thw=grid)
        if cut == 0:
            self.cache = _new_cache(self.model)
        elif self.cache.get_seq_length() > cut:
            self.cache.crop(cut - self.cache.get_seq_length())  # negative: tokens to drop from the end
        first_image = sum(1 for s in spans if s[0] < cut)  # images before the cut are cached
        pixels = _pixel_rows(batch.get("pixel_values"), grid, first_image)
        hidden = self._forward(batch["input_ids"][:, cut:], positions[:, :, cut:], pixels,
                               grid[first_image:] if pixels is not None else None)
        self.ids, self.image_spans = ids, spans
        self.next_pos = int(positions[:, 0, -1].max()) + 1
        return self._logits(hidden), len(ids) - cut

    def _reusable(self, ids: list[int], spans) -> int:
        return reusable_prefix(self.ids, self.image_spans, ids, spans)

    # -- decoding -----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, token: int) -> torch.Tensor:
        """Feed one token; logits for the next."""
        device = self.model.device
        ids = torch.tensor([[token]], device=device)
        pos = torch.full((3, 1, 1), self.next_pos, dtype=torch.long, device=device)
        hidden = self._forward(ids, pos, None, None)
        self.ids.append(token)
        self.next_pos += 1
        return self._logits(hidden)

    def _forward(self, ids, positions, pixel_values, grid):
        device = self.model.device
        kwargs = {}
        if pixel_values is not None:
            kwargs = {"pixel_values": pixel_values.to(device), "image_grid_thw": grid.to(device)}
        out = self.model.model(input_ids=ids.to(device), position_ids=positions.to(device),
                               use_cache=True, **cache_kwargs(self.model.model, self.cache), **kwargs)
        return out.last_hidden_state[:, -1]

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.get_output_embeddings()(hidden)[0].float()


def encode_messages(processor, messages: list[dict]):
    """(processor outputs, image keys) for materialized `messages` with the assistant generation prompt."""
    text = render(processor, messages)
    images = images_of(messages)
    kwargs = {"images": images} if images else {}
    return processor(text=[text], return_tensors="pt", **kwargs), _image_keys(messages)


def reusable_prefix(old_ids: list[int], old_spans, ids: list[int], spans) -> int:
    """Length of the cached prefix `old_ids` still valid for `ids` (at least one token is left to run)."""
    cut = 0
    limit = min(len(ids) - 1, len(old_ids))
    while cut < limit and ids[cut] == old_ids[cut]:
        cut += 1
    old = {s[0]: s[2] for s in old_spans}
    for start, end, key in spans:
        if start < cut and (old.get(start) != key or end > cut):
            return start  # changed pixels, or the cut would split the image
    return cut


def _new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def _image_keys(messages: list[dict]) -> list:
    """Identity of each image: its (video, frame) reference, else the image object itself."""
    keys = []
    for m in messages:
        for item in m["content"] if isinstance(m.get("content"), list) else []:
            if isinstance(item, dict) and item.get("type") == "image":
                keys.append((item["video"], item["frame"]) if "frame" in item else id(item.get("image")))
    return keys


def _image_spans(ids: list[int], grid, image_token_id: int, merge_sq: int, keys: list) -> list[tuple[int, int, object]]:
    """(start, end, key) of each image's pad tokens; consecutive images are split by their sizes."""
    if grid is None:
        return []
    where = [i for i, t in enumerate(ids) if t == image_token_id]
    spans, k = [], 0
    for n, key in zip((grid.prod(-1) // merge_sq).tolist(), keys):
        spans.append((where[k], where[k + n - 1] + 1, key))
        k += n
    return spans


def _pixel_rows(pixel_values, grid, first_image: int):
    """The patch rows of images `first_image`.. (the processor concatenates all images' patches)."""
    if pixel_values is None or first_image >= len(grid):
        return None
    start = int(grid[:first_image].prod(-1).sum())
    return pixel_values[start:]
