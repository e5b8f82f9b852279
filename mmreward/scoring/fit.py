"""Images brought to the size the model will use as soon as they are decoded.

A Qwen-VL image processor resizes every image into its pixel bounds (`smart_resize`: both sides
multiples of patch x merge, the area within [shortest_edge, longest_edge]) with a bicubic,
antialiased resize of the uint8 tensor. Done by the processor, that resize happens at collate
time, so every image of a chunk used to wait there at full size (two 64 MP photos per record:
2.2 GB a record). `image_fit` returns the processor's own resize as a function of one decoded
image, which the scoring engine applies right after decoding it, so only one full-size image
is alive at a time.

Equality: the function runs the processor's `resize` method on the tensor the processor itself
would build from the RGB image (`np.asarray` -> CHW uint8), and keeps its uint8 output. When the
processor meets the result it computes the same target size (a fitted size is its own fit) and
torchvision's resize to the size an image already has returns it unchanged, so the pixel values
reaching the model are bit for bit today's (tested for the Qwen2-VL, Qwen2.5-VL and Qwen3-VL
processors). JPEG DCT scaling (Pillow's `draft`) would decode a large JPEG in a quarter of the
memory but gives other pixels than a full decode and a resize, so it is not used.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PIL import Image


def image_fit(processor) -> Callable[[Image.Image], Image.Image] | None:
    """The processor's own resize of one RGB image, or None where its image processor is not the
    one whose resize is reproduced exactly (then images reach it at full size, as before)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor, smart_resize

    ip = getattr(processor, "image_processor", None)
    if not isinstance(ip, Qwen2VLImageProcessor) or not ip.do_resize:
        return None

    def fit(image: Image.Image) -> Image.Image:
        import torch
        from transformers.image_processing_utils import get_size_dict
        from transformers.image_utils import SizeDict

        # the size as the processor reads it when called (load_processor may have set a plain dict)
        size = SizeDict(**get_size_dict(size=ip.size, default_to_square=ip.default_to_square))
        factor = ip.patch_size * ip.merge_size
        try:
            h, w = smart_resize(image.height, image.width, factor, size.shortest_edge, size.longest_edge)
        except ValueError:  # a shape the processor refuses (aspect ratio over 200): it says so when counting
            return image
        if h * w >= image.height * image.width:  # the processor keeps or enlarges it: nothing to save
            return image
        pixels = np.array(image if image.mode == "RGB" else image.convert("RGB"))
        del image  # the caller passes the decoded image on: each full-size copy is dropped once copied
        tensor = torch.from_numpy(pixels).permute(2, 0, 1).contiguous()  # as the processor lays it out
        del pixels
        # the backend's resize to (h, w), which the processor's own resize calls (transformers 5.25;
        # 5.9's processor has no resize of its own and takes the backend's directly)
        target = SizeDict(height=h, width=w)
        out = super(Qwen2VLImageProcessor, ip).resize(image=tensor[None], size=target, resample=ip.resample)[0]
        return Image.fromarray(out.permute(1, 2, 0).contiguous().numpy(), "RGB")

    return fit


def decoded_bytes(item) -> int:
    """Bytes of decoded pixels an item (`mmreward.scoring.records.Item`) holds: its images and the
    frames of its sampled clips."""
    images = [*item.images, *(im for c in item.candidates for im in c.images)]
    clips = [*item.videos, *(v for c in item.candidates for v in c.videos)]
    return sum(im.width * im.height * 3 for im in images) + sum(np.asarray(v.frames).nbytes for v in clips)
