"""G rollouts of one item decoded together: one batched KV cache with holes.

The G conversations share their first prompt, so it is prefilled once and the
cache repeated G times. After that the rows diverge, and the cache keeps one
column per token ever fed; `mask` says which columns are valid for each row:
  * a row that stops early, or has nothing new this turn, gets pad columns (mask 0);
  * turn suffixes of different lengths are right-padded (mask 0);
  * when the memory window changes a row's context, the row's columns after the
    reusable prefix are masked out (never physically removed) and the new suffix is
    appended as fresh columns.
Every real token gets its M-RoPE position explicitly (from `get_rope_index` over the
row's full sequence), so holes do not shift positions: each row computes what a
single-sequence cache (`kv.CachedDecoder`) would, up to float rounding.
"""
from __future__ import annotations

import torch

from mmreward.models.cache import cache_kwargs

from .kv import _image_spans, _new_cache, _pixel_rows, encode_messages, reusable_prefix


class BatchedDecoder:
    def __init__(self, model, processor, rows: int):
        self.model, self.processor, self.rows = model, processor, rows
        self.pad_id = processor.tokenizer.pad_token_id or 0
        self.cache = None
        self.mask = torch.zeros(rows, 0, dtype=torch.long)  # [rows, columns]: 1 = valid for that row
        self.ids = [[] for _ in range(rows)]  # per row: tokens of its valid columns, in order
        self.cols = [[] for _ in range(rows)]  # per row: the cache column of each of those tokens
        self.spans = [[] for _ in range(rows)]
        self.next_pos = [0] * rows

    @torch.no_grad()
    def prefill(self, contexts: dict[int, list[dict]]) -> tuple[dict[int, torch.Tensor], dict[int, int]]:
        """Prefill each row's new materialized context; (logits per row, tokens prefilled per row)."""
        chunks = {r: self._plan(r, msgs) for r, msgs in contexts.items()}
        if (self.cache is None and self.rows > 1 and len(chunks) == self.rows
                and len({tuple(c["ids"]) for c in chunks.values()}) == 1):
            return self._shared_first_prefill(chunks)
        width = max(len(c["ids"]) for c in chunks.values())
        ids = torch.full((self.rows, width), self.pad_id, dtype=torch.long)
        pos = torch.zeros((3, self.rows, width), dtype=torch.long)
        new_mask = torch.zeros((self.rows, width), dtype=torch.long)
        pixels, grids = [], []
        for r, c in sorted(chunks.items()):  # images must come in row order
            n = len(c["ids"])
            ids[r, :n], pos[:, r, :n], new_mask[r, :n] = torch.tensor(c["ids"]), c["pos"], 1
            if c["pixels"] is not None:
                pixels.append(c["pixels"])
                grids.append(c["grid"])
        hidden = self._forward(ids, pos, new_mask, pixels, grids)
        logits = {r: self._logits(hidden[r, len(c["ids"]) - 1]) for r, c in chunks.items()}
        return logits, {r: len(c["ids"]) for r, c in chunks.items()}

    def _plan(self, r: int, messages: list[dict]) -> dict:
        """What row r must run: its suffix after the reusable prefix (older columns masked out)."""
        batch, keys = encode_messages(self.processor, messages)
        full = batch["input_ids"][0].tolist()
        grid = batch.get("image_grid_thw")
        merge = self.model.config.vision_config.spatial_merge_size
        spans = _image_spans(full, grid, self.model.config.image_token_id, merge * merge, keys)
        cut = reusable_prefix(self.ids[r], self.spans[r], full, spans) if self.cache is not None else 0
        positions, _ = self.model.model.get_rope_index(
            batch["input_ids"], mm_token_type_ids=batch["mm_token_type_ids"], image_grid_thw=grid)
        if self.cache is not None:
            self.mask[r, self.cols[r][cut:]] = 0  # invalidated, not removed
        first_image = sum(1 for s in spans if s[0] < cut)
        pixels = _pixel_rows(batch.get("pixel_values"), grid, first_image)
        self.ids[r], self.cols[r], self.spans[r] = full[:cut], self.cols[r][:cut], spans
        self.next_pos[r] = int(positions[:, 0, -1].max()) + 1
        return {"ids": full[cut:], "pos": positions[:, 0, cut:], "pixels": pixels,
                "grid": grid[first_image:] if pixels is not None else None}

    def _shared_first_prefill(self, chunks):
        """All rows start from the same prompt: run it once, then repeat the cache."""
        c = next(iter(chunks.values()))
        ids = torch.tensor([c["ids"]])
        pixels = [c["pixels"]] if c["pixels"] is not None else []
        grids = [c["grid"]] if c["grid"] is not None else []
        self.cache, self.mask = _new_cache(self.model), torch.zeros(1, 0, dtype=torch.long)
        hidden = self._forward(ids, c["pos"][:, None, :], torch.ones_like(ids), pixels, grids, rows=1)
        self.cache.batch_repeat_interleave(self.rows)
        self.mask = self.mask.repeat(self.rows, 1)
        for r in range(1, self.rows):
            self.ids[r], self.cols[r] = list(self.ids[0]), list(self.cols[0])
        logits = self._logits(hidden[0, -1])
        n = len(c["ids"])
        return {r: logits for r in chunks}, {r: (n if r == 0 else 0) for r in chunks}

    @torch.no_grad()
    def step(self, tokens: dict[int, int]) -> dict[int, torch.Tensor]:
        """Feed one token to each row in `tokens` (the others get a masked pad); next logits per row."""
        ids = torch.full((self.rows, 1), self.pad_id, dtype=torch.long)
        pos = torch.zeros((3, self.rows, 1), dtype=torch.long)
        new_mask = torch.zeros((self.rows, 1), dtype=torch.long)
        for r, t in tokens.items():
            ids[r, 0], pos[:, r, 0], new_mask[r, 0] = t, self.next_pos[r], 1
            self.next_pos[r] += 1
        hidden = self._forward(ids, pos, new_mask, [], [])
        rows = list(tokens)
        logits = self._logits(hidden[rows, 0])  # one lm_head matmul for the whole group
        return {r: logits[i] for i, r in enumerate(rows)}

    def _forward(self, ids, pos, new_mask, pixels, grids, rows=None):
        if self.cache is None:
            self.cache = _new_cache(self.model)
        start = self.mask.shape[1]
        self.mask = torch.cat([self.mask, new_mask], dim=1)
        for r in range(rows or self.rows):  # record each real token's column
            real = new_mask[r].nonzero().flatten()
            self.cols[r].extend((real + start).tolist())
            self.ids[r].extend(ids[r, real].tolist())
        device = self.model.device
        kwargs = {}
        if pixels:
            kwargs = {"pixel_values": torch.cat(pixels).to(device), "image_grid_thw": torch.cat(grids).to(device)}
        out = self.model.model(input_ids=ids.to(device), position_ids=pos.to(device),
                               attention_mask=self.mask.to(device), use_cache=True, **cache_kwargs(self.model.model, self.cache), **kwargs)
        return out.last_hidden_state

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.get_output_embeddings()(hidden).float()
