"""What the image-generation rewards share: records in, one reward per image candidate out.

Each candidate of a record carries one generated image; the record's prompt is
the text it was generated from. A subclass turns a record into what its scorer
needs (`prepare`: the prompt, or the text the OCR reward looks for) and scores a
batch of (context, image) pairs (`score_images`). Images of all the records of a
chunk share batches. A record that cannot be scored (no image, an unreadable
file, no target text) becomes its own `{"id", "error"}` line.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from typing import Any

from mmreward.errors import ConfigError, RecordError
from mmreward.families import Family
from mmreward.models.options import DeviceOptions, MediaCapOptions
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.loop import fixed_batches, score_chunk
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.outputs import scored
from mmreward.scoring.records import Item, load_item


def candidate_images(item: Item, model: str) -> list:
    """The one image of each candidate; anything else is this record's error."""
    images = []
    for j, cand in enumerate(item.candidates):
        if cand.videos or len(cand.images) != 1:
            what = "videos" if cand.videos else f"{len(cand.images)} images"
            raise RecordError(f"candidate {j}: {model} scores one image per candidate, got {what}")
        images.append(cand.images[0])
    return images


@dataclass
class ImageRewardOptions(MediaCapOptions, DeviceOptions):
    """What every CLIP-family reward takes: its device and precision, the media caps."""

    dtype: str | None = field(default=None, metadata={
        "help": "bfloat16 | float16 | float32. Default: float32, the precision these rewards were released in"})


def image_family(name: str, title: str, options: type, names: tuple[str, ...], catalog: tuple[dict, ...]):
    """The `Family` spec of an image reward: loaded by `NAME` (the released default) or
    `NAME@PATH_OR_HUB_ID`, one scalar reward per image."""
    return Family(name=name, title=title, loader=f"mmreward.rewards.{name}:load", options=options, names=names,
                  modes=("scalar",), catalog=catalog)


def device_and_dtype(device: str | None, dtype: str | None):
    """Default: the GPU if there is one, float32 (the precision these rewards were released in)."""
    import torch

    from mmreward.models.backbone import default_device, resolve_dtype

    device = default_device(device)
    try:
        return device, (torch.float32 if dtype is None else resolve_dtype(dtype, device))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


class ImageReward(BaseRewardModel):
    kind = "clip"

    def __init__(self, name: str, media: MediaOptions | None = None):
        self.name = name
        self.media = media or MediaOptions()

    #: extra facts for `info` (the checkpoint, the formula)
    details: dict = {}
    #: named outputs per image besides the reward, returned under "dimensions"
    dimensions: tuple[str, ...] = ()
    #: True: images reach `score_images` as their files hold them (mode, orientation), for a
    #: reward whose official preprocessing converts them itself
    raw_images = False

    @property
    def info(self) -> dict:
        # what the probes need to know (mmreward/probe/spec.py): these models read the candidates' images only
        return {**super().info, "inputs": ["images"], "dimensions": list(self.dimensions), **self.details}

    def prepare(self, record: dict, item: Item) -> Any:
        """What `score_images` needs besides the image; raise RecordError if the record lacks it."""
        return item.prompt

    @abc.abstractmethod
    def score_images(self, contexts: list, images: list) -> list[dict]:
        """One dict per image: {"reward": float, one float per `dimensions`, ...extra per-candidate outputs}."""

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        opts = replace(self.media, media_root=media_root)

        def prepare(rec) -> list[tuple]:
            item = load_item(rec, opts, raw_images=self.raw_images)
            images = candidate_images(item, self.name)
            context = self.prepare(rec, item)
            return [(context, im) for im in images]

        def run(pairs: list[tuple]) -> list[dict]:
            return self.score_images([c for c, _ in pairs], [im for _, im in pairs])

        def finish(rec, _items, res: list[dict]) -> dict:
            dims = {d: [r[d] for r in res] for d in self.dimensions}
            extra = {key: [r[key] for r in res] for key in res[0] if key not in ("reward", *self.dimensions)}
            return scored([r["reward"] for r in res], dims, **extra)

        return score_chunk(records, prepare, run, finish, fixed_batches(batch_size), item_noun="candidate")
