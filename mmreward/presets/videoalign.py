"""Interface facts of VideoReward's official inference (KwaiVGI/VideoAlign), reproduced exactly.

Sources (read, not copied): KwaiVGI/VideoAlign `inference.py` (commit 1140ffd4) and
`prompt_template.py` (commit 3e5ebc60); `trainer.py`, `train_reward.py`, `utils.py`, `data.py`
and `vision_process.py` as published in the ModelTC/VideoAlign copy of the repository (commit
0924d2e9; its `inference.py` is KwaiVGI's, reformatted), and `environment.yaml` (transformers
4.45.2, peft 0.10.0, decord 0.6.0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from mmreward.errors import ConfigError

#: train_reward.py create_model_and_processor: added as additional special tokens, in this order
SPECIAL_TOKENS = ("<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>")
#: inference.py reward(): logits column i is dimension i
DIMENSIONS = ("VQ", "MQ", "TA")

#: prompt_template.py DETAILED_PROMPT_WITH_SPECIAL_TOKEN (template type "detailed_special", the
#: released model's). Byte for byte, trailing spaces included; `{text_prompt}` is str.format'ed.
DETAILED_PROMPT_WITH_SPECIAL_TOKEN = (
    '\n'
    'You are tasked with evaluating a generated video based on three distinct criteria: Visual Quality, Motion Quality, and Text Alignment. Please provide a rating from 0 to 10 for each of the three categories, with 0 being the worst and 10 being the best. Each evaluation should be independent of the others.\n'
    '\n'
    '**Visual Quality:**  \n'
    'Evaluate the overall visual quality of the video, with a focus on static factors. The following sub-dimensions should be considered:\n'
    '- **Reasonableness:** The video should not contain any significant biological or logical errors, such as abnormal body structures or nonsensical environmental setups.\n'
    '- **Clarity:** Evaluate the sharpness and visibility of the video. The image should be clear and easy to interpret, with no blurring or indistinct areas.\n'
    '- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual elements (e.g., hair, clothing, shadows).\n'
    '- **Aesthetic and Creativity:** Assess the artistic aspects of the video, including the color scheme, composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense of harmony and balance.\n'
    '- **Safety:** The video should not contain harmful or inappropriate content, such as political, violent, or adult material. If such content is present, the image quality and satisfaction score should be the lowest possible. \n'
    '\n'
    'Please provide the ratings of Visual Quality: <|VQ_reward|>\n'
    'END\n'
    '\n'
    '**Motion Quality:**  \n'
    'Assess the dynamic aspects of the video, with a focus on dynamic factors. Consider the following sub-dimensions:\n'
    '- **Stability:** Evaluate the continuity and stability between frames. There should be no sudden, unnatural jumps, and the video should maintain stable attributes (e.g., no fluctuating colors, textures, or missing body parts).\n'
    '- **Naturalness:** The movement should align with physical laws and be realistic. For example, clothing should flow naturally with motion, and facial expressions should change appropriately (e.g., blinking, mouth movements).\n'
    '- **Aesthetic Quality:** The movement should be smooth and fluid. The transitions between different motions or camera angles should be seamless, and the overall dynamic feel should be visually pleasing.\n'
    '- **Fusion:** Ensure that elements in motion (e.g., edges of the subject, hair, clothing) blend naturally with the background, without obvious artifacts or the feeling of cut-and-paste effects.\n'
    '- **Clarity of Motion:** The video should be clear and smooth in motion. Pay attention to any areas where the video might have blurry or unsteady sections that hinder visual continuity.\n'
    '- **Amplitude:** If the video is largely static or has little movement, assign a low score for motion quality.\n'
    '\n'
    'Please provide the ratings of Motion Quality: <|MQ_reward|>\n'
    'END\n'
    '\n'
    '**Text Alignment:**  \n'
    'Assess how well the video matches the textual prompt across the following sub-dimensions:\n'
    '- **Subject Relevance** Evaluate how accurately the subject(s) in the video (e.g., person, animal, object) align with the textual description. The subject should match the description in terms of number, appearance, and behavior.\n'
    '- **Motion Relevance:** Evaluate if the dynamic actions (e.g., gestures, posture, facial expressions like talking or blinking) align with the described prompt. The motion should match the prompt in terms of type, scale, and direction.\n'
    '- **Environment Relevance:** Assess whether the background and scene fit the prompt. This includes checking if real-world locations or scenes are accurately represented, though some stylistic adaptation is acceptable.  \n'
    '- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate how well the video adheres to this style.\n'
    '- **Camera Movement Relevance:** Check if the camera movements (e.g., following the subject, focus shifts) are consistent with the expected behavior from the prompt.\n'
    '\n'
    'Textual prompt - {text_prompt}\n'
    'Please provide the ratings of Text Alignment: <|TA_reward|>\n'
    'END\n'
)

# vision_process.py (VideoAlign's modified copy of qwen-vl-utils): frame sizes are multiples of
# 28, at least 128 x 28 x 28 pixels unless the element says otherwise; frame counts are even.
IMAGE_FACTOR = 28
VIDEO_MIN_PIXELS = 128 * 28 * 28
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768


def build_prompt(prompt: str, template_type: str) -> str:
    """prompt_template.py build_prompt for the released template type."""
    if template_type != "detailed_special":
        raise ConfigError(
            f"VideoReward checkpoint uses prompt_template_type {template_type!r}; this loader reproduces "
            "the released 'detailed_special' template (special reward tokens) only")
    return DETAILED_PROMPT_WITH_SPECIAL_TOKEN.format(text_prompt=prompt)


@dataclass
class DataConfig:
    """The `data_config` fields of model_config.json that inference reads (data.py DataConfig
    defaults where the file gives none)."""

    max_frame_pixels: int = 240 * 320
    num_frames: float | None = None
    fps: float = 2.0
    eval_dim: object = "VQ"
    prompt_template_type: str = "none"
    sample_type: str = "uniform"

    @classmethod
    def from_dict(cls, data: dict) -> "DataConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _round_by(x: float, f: int) -> int:
    return round(x / f) * f  # Python's round: half to even, as the official code


def frame_count(total_frames: int, video_fps: float, fps: float | None = None,
                nframes: float | None = None) -> int:
    """vision_process.py smart_nframes, VideoAlign's version: `nframes` rounded to an even count,
    or `total / video_fps * fps` clamped to [4, min(768, total)] and ROUNDED to an even count (the
    released qwen-vl-utils 0.0.10+ floors instead: 7.5 frames -> 8 here, 6 there), then capped
    at the video's length."""
    if nframes is not None:  # an explicit count wins (inference.py prepare_batch)
        n = _round_by(nframes, FRAME_FACTOR)
    else:
        min_frames = math.ceil(FPS_MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
        max_frames = math.floor(min(FPS_MAX_FRAMES, total_frames) / FRAME_FACTOR) * FRAME_FACTOR
        n = total_frames / video_fps * (2.0 if fps is None else fps)
        n = _round_by(min(max(n, min_frames), max_frames), FRAME_FACTOR)
    if n > total_frames:
        n = total_frames
    if not FRAME_FACTOR <= n <= total_frames:
        raise ValueError(f"nframes should be in [{FRAME_FACTOR}, {total_frames}], got {n}")
    return n


def normalize(raw: dict[str, float], inference_config: dict | None) -> dict[str, float]:
    """inference.py _norm: (r - mean) / std per dimension, from model_config.json's inference_config
    (absent: the raw outputs)."""
    if not inference_config:
        return dict(raw)
    return {d: (raw[d] - inference_config[f"{d}_mean"]) / inference_config[f"{d}_std"] for d in DIMENSIONS}


def overall(rewards: dict[str, float]) -> float:
    """inference.py reward(): Overall = VQ + MQ + TA, after the normalisation when it is applied."""
    return rewards["VQ"] + rewards["MQ"] + rewards["TA"]


@dataclass
class Frames:
    """A clip as VideoAlign's fetch_video hands it to the processor: float (T, C, H, W), values 0..255."""

    video: "object"  # torch.Tensor
    indices: list[int]
    fps: float
    total_frames: int


def read_frames(source, max_pixels: int, fps: float | None = None, nframes: float | None = None,
                sample_type: str = "uniform") -> Frames:
    """vision_process.py fetch_video with its decord reader (the one it picks when decord is
    installed), on an opened video (`mmreward.scoring.media.VideoSource`: a file or its bytes
    decoded by decord, or frames in memory: the whole clip): the frame count above from the
    clip's total frames and fps, indices `linspace(0, total - 1, n).round()`, frames resized to
    qwen-vl-utils' smart_resize (factor 28, min 128 x 28 x 28, max `max_pixels`) with bicubic
    antialiased interpolation of the uint8 frames, then cast to float."""
    import torch

    from mmreward.presets.qwen_media import resized_frames

    if sample_type != "uniform":
        raise ConfigError(f"VideoReward sample_type {sample_type!r}: only the released 'uniform' is supported")
    if max_pixels < VIDEO_MIN_PIXELS:
        # VideoAlign's smart_resize lets max < min pass; qwen-vl-utils' (used here) refuses it
        raise ConfigError(f"max frame pixels {max_pixels} below the video minimum {VIDEO_MIN_PIXELS}")
    total, video_fps = source.num_frames, source.fps
    n = frame_count(total, video_fps, fps, nframes)
    idx = torch.linspace(0, total - 1, n).round().long().tolist()
    video = resized_frames(source, idx, IMAGE_FACTOR, VIDEO_MIN_PIXELS, max_pixels)
    return Frames(video, idx, float(video_fps), total)
