"""Images and videos for the Qwen-VL processors, prepared as the official scripts did: through
qwen-vl-utils' `process_vision_info` (the installed release, 0.0.14; its image resizing has not
changed since 0.0.8, its video frame count is 0.0.10+'s floor rule, which the UnifiedReward video
scripts need anyway: they call `process_vision_info(..., return_video_kwargs=True)`).

Media come in any form a record accepts (`mmreward.scoring.media`), and each form is fed as the
official scripts fed the file it stands for:
- an image (path, bytes, data URI, PIL) is opened by PIL and kept in its own mode, no EXIF
  rotation (`open_image(raw=True)`), then qwen-vl-utils' `fetch_image` converts it (`to_rgb`)
  and resizes it, as it does with the path; an array or tensor is its RGB pixels;
- a video (path, bytes, data URI: decoded in memory by decord, the reader qwen-vl-utils picks
  when decord is installed; frames + fps: the whole clip) is sampled and resized by `fetch_video`
  below, qwen-vl-utils' `fetch_video` + `_read_video_decord` on an opened video instead of a
  path (they read only paths), with qwen-vl-utils' own frame count (`smart_nframes`) and sizes
  (`smart_resize`). So the same clip as a file, its bytes or all its frames at its fps gets the
  same frames.

Where transformers 5 would feed the model something else than the 4.4x-4.5x processors the
official scripts ran on, the processor is told what those fed it:
- the sampled frames' metadata (fps, frame numbers) goes with them, so Qwen2.5-VL's temporal
  positions use `second_per_grid_ts = 2 / sample_fps` as the old processors computed it from
  qwen-vl-utils' `fps` (today's processor reads it from the metadata, not from `fps`), and no
  second frame sampling happens (`do_sample_frames=False`);
- Qwen3-VL gets `do_resize=False`, as its qwen-vl-utils recipe passes it (the media are
  already resized to its 32 px grid).

Not reproduced: transformers 4.5x's Qwen2.5-VL `get_rope_index` started the text after a video
at 1 + the largest of its temporal, height and width positions; today's starts it after the
height/width extent only. The two agree while a clip's temporal positions stay within its
spatial extent (short clips: ~5 s at 2 fps), and differ for long ones.
"""
from __future__ import annotations

from mmreward.errors import MediaError
from mmreward.scoring.media import MediaOptions, VideoSource, open_image, open_video_source


def patch_size(processor) -> int:
    return getattr(processor.image_processor, "patch_size", 14)


def raw_image(value, opts: MediaOptions, index: int = 0):
    """A PIL image as the official scripts' `Image.open` gave it (mode and orientation kept),
    from any image form, checked for the pixel cap and a full decode."""
    return open_image(value, opts, index, raw=True)


def image_entry(value, opts: MediaOptions, index: int = 0, min_pixels: int | None = None,
                max_pixels: int | None = None) -> dict:
    """A chat-content image (`raw_image`; qwen-vl-utils' to_rgb converts it, RGBA onto white)."""
    entry = {"type": "image", "image": raw_image(value, opts, index)}
    if min_pixels:
        entry["min_pixels"] = min_pixels
    if max_pixels:
        entry["max_pixels"] = max_pixels
    return entry


def video_entry(value, opts: MediaOptions, patch: int, index: int = 0, fps=None, nframes: int | None = None,
                max_pixels: int | None = None) -> dict:
    """A chat-content video, read now (2 fps unless `nframes`): its frames and their metadata.
    `fps`: the frame rate of a video given as frames (the record's)."""
    entry: dict = {"type": "video"}
    if nframes:
        entry["nframes"] = nframes
    if max_pixels:
        entry["max_pixels"] = max_pixels
    with open_video_source(value, opts, index, fps, backend="decord") as source:
        entry["video"], entry["video_metadata"] = fetch_video(source, entry, patch)
    return entry


def media_entry(processor, kind: str, value, opts: MediaOptions, settings: dict, index: int = 0,
                fps=None) -> dict:
    """A chat-content image or video (`kind`: "images" | "videos") with a preset's per-item
    qwen-vl-utils settings from its load options: min_pixels / max_pixels for images,
    video_frames (-> nframes) / video_max_pixels for videos."""
    if kind == "images":
        return image_entry(value, opts, index, settings.get("min_pixels"), settings.get("max_pixels"))
    return video_entry(value, opts, patch_size(processor), index, fps, settings.get("video_frames"),
                       settings.get("video_max_pixels"))


def fetch_video(source: VideoSource, ele: dict, patch: int):
    """qwen-vl-utils 0.0.14 vision_process.py `fetch_video` with its decord reader
    (`_read_video_decord`), on an opened video: the frame range and count by its own
    `calculate_video_frame_range` and `smart_nframes`, indices `linspace(start, end, n).round()`,
    the per-frame pixel budget of `fetch_video` (min VIDEO_MIN_TOKEN_NUM, max VIDEO_MAX_TOKEN_NUM
    patches-of-merge, within `total_pixels` for the clip), its `smart_resize`, then a bicubic
    antialiased resize of the uint8 frames cast to float. -> (float [T, C, H, W], metadata)."""
    import torch
    from qwen_vl_utils import vision_process as qv

    try:
        start, end, total = qv.calculate_video_frame_range(ele, source.num_frames, source.fps)
        n = qv.smart_nframes(ele, total_frames=total, video_fps=source.fps)
    except ValueError as exc:  # e.g. a one-frame clip: qwen-vl-utils needs two
        raise MediaError(f"{source.name}: {exc}") from None
    idx = torch.linspace(start, end, n).round().long().tolist()
    factor = patch * qv.SPATIAL_MERGE_SIZE
    min_pixels = ele.get("min_pixels", qv.VIDEO_MIN_TOKEN_NUM * factor * factor)
    total_pixels = ele.get("total_pixels", qv.MODEL_SEQ_LEN * factor * factor * 0.9)
    max_pixels = max(min(qv.VIDEO_MAX_TOKEN_NUM * factor * factor, total_pixels / n * qv.FRAME_FACTOR),
                     int(min_pixels * 1.05))
    max_pixels = min(ele.get("max_pixels", max_pixels), max_pixels)
    video = resized_frames(source, idx, factor, min_pixels, max_pixels)
    metadata = {"fps": source.fps, "frames_indices": idx, "total_num_frames": total, "video_backend": "decord"}
    return video, metadata


def resized_frames(source: VideoSource, idx: list[int], factor: int, min_pixels: int, max_pixels: float):
    """The frames at `idx`, resized as qwen-vl-utils' `fetch_video` (and VideoAlign's copy of it)
    resizes them: its `smart_resize`, then a bicubic antialiased resize of the uint8 frames, cast
    to float. -> float [T, C, H, W]."""
    import torch
    from qwen_vl_utils.vision_process import smart_resize
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    video = torch.from_numpy(source.frames(idx)).permute(0, 3, 1, 2)
    try:
        h, w = smart_resize(video.shape[2], video.shape[3], factor=factor, min_pixels=min_pixels,
                            max_pixels=max_pixels)
    except (ValueError, AssertionError) as exc:  # an aspect ratio over 200, min over max
        raise MediaError(f"{source.name}: {exc}") from None
    return TF.resize(video, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True).float()


def is_qwen3(processor) -> bool:
    return type(processor).__name__.startswith("Qwen3")


def processor_inputs(processor, messages: list[dict]) -> dict:
    """The media keyword arguments of `processor(text=..., **kwargs)` for these messages:
    `process_vision_info`'s loop (images through qwen-vl-utils' `fetch_image`, in order), with
    the videos already fetched by `video_entry`."""
    from qwen_vl_utils.vision_process import extract_vision_info, fetch_image

    images, videos, metadata = [], [], []
    for ele in extract_vision_info(messages):
        if "image" in ele or "image_url" in ele:
            try:
                images.append(fetch_image(ele, image_patch_size=patch_size(processor)))
            except (ValueError, AssertionError) as exc:  # smart_resize: an aspect ratio over 200
                raise MediaError(f"image {len(images)}: {exc}") from None
        elif "video" in ele:
            videos.append(ele["video"])
            metadata.append(dict(ele["video_metadata"]))
        else:
            raise ValueError(f"a vision entry without an image or a video: keys {sorted(ele)}")
    kwargs: dict = {}
    if images:
        kwargs["images"] = images
    if videos:
        kwargs.update(videos=videos, video_metadata=metadata, do_sample_frames=False)
    if is_qwen3(processor):
        kwargs["do_resize"] = False
    return kwargs


def strip_media(messages: list[dict]) -> list[dict]:
    """The messages with bare {"type": "image"|"video"} parts: what the chat template renders."""
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [{"type": p["type"]} if p["type"] in ("image", "video") else p for p in content]
        out.append({**m, "content": content})
    return out
