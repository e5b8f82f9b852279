"""VideoReward (KwaiVGI/VideoAlign): a Qwen2-VL-2B read at three special tokens by a linear head.

`mmreward.load(DIR)` recognises the release (or its `mmreward convert`ed form) and reproduces
the official `VideoVLMRewardInference.reward()` (inference.py):
- one user turn per video: the video, then `build_prompt(prompt, "detailed_special")`
  (mmreward.presets.videoalign), rendered by the base model's chat template with the
  generation prompt; right padding (train_reward.py: padding_side="right");
- frames sampled and resized by VideoAlign's own vision_process.py rules (videoalign.read_frames),
  given to the processor as they are (4.45's processor did not resize them again); a video may
  come in any form a record accepts (its bytes, a data URI, its frames + fps: the whole clip),
  read as the file would be;
- the backbone called as the official `Qwen2VLRewardModelBT.forward` calls it (trainer.py): token
  embeddings with the vision features scattered in, then the decoder with NO position ids, so
  transformers numbers the tokens 0..L-1 in all three M-RoPE sections (the vision tokens get no
  2-D positions);
- `rm_head`, a bias-free Linear(hidden, output_dim) in the backbone's dtype, on every position;
  the rows at the three special tokens are kept (output_dim 3: head i at token i, the diagonal);
- rewards {VQ, MQ, TA} normalised `(r - mean) / std` with model_config.json's inference_config
  (`normalize=False`: the raw head outputs), Overall = VQ + MQ + TA.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmreward.errors import ConfigError, MediaError
from mmreward.families import Family
from mmreward.models.backbone import inference_mode
from mmreward.models.options import MediaCapOptions, RuntimeOptions
from mmreward.presets import reward_bt, videoalign
from mmreward.presets.common import backbone_options, candidate_media
from mmreward.presets.videoreward_checkpoint import (CONVERTED_CONFIG, HEAD_FILE, is_converted_dir,
                                                     is_release_dir, load_release_state, read_model_config,
                                                     resolve_base)
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.loop import fixed_batches, score_chunk
from mmreward.scoring.media import MediaOptions, open_video_source
from mmreward.scoring.outputs import scored


@dataclass
class VideoRewardOptions(MediaCapOptions, RuntimeOptions):
    """VideoReward's load options: the official `reward()`'s overrides, which checkpoint, which base."""

    _minimum = {"video_frames": 1, "video_max_pixels": 1, "max_pixels": 1, "checkpoint_step": 0}

    normalize: bool = field(default=True, metadata={
        "help": "normalise the head outputs with the release's inference_config (false: the raw outputs)"})
    checkpoint_step: int | None = field(default=None, metadata={
        "help": "the release's checkpoint-N to load (default: the latest)"})
    base: str | None = field(default=None, metadata={
        "help": "the base Qwen2-VL-2B-Instruct directory or hub id (default: model_config.json's "
                "model_name_or_path)"})
    video_frames: int | None = field(default=None, metadata={
        "help": "frames per video, the official reward()'s num_frames (default: the data config's fps rule)"})
    video_max_pixels: int | None = field(default=None, metadata={
        "help": "pixels per frame, the official reward()'s max_pixels (default: the data config's)"})
    max_pixels: int | None = field(default=None, metadata={"help": "the same as video_max_pixels"})


class VideoRewardModel(BaseRewardModel):
    kind = "scalar"

    def __init__(self, backbone, processor, head: nn.Module, settings: dict, path: str,
                 normalize: bool = True, nframes: float | None = None, max_pixels: int | None = None,
                 media: MediaOptions | None = None):
        self.backbone, self.processor, self.head = backbone, processor, head
        self.media = media or MediaOptions()
        self.settings, self.name = settings, str(path)
        self.data = videoalign.DataConfig.from_dict(settings["data_config"])
        self.inference_config = settings.get("inference_config")
        self.normalize = normalize
        # inference.py prepare_batch: num_frames (when set) wins over fps; reward(num_frames=,
        # max_pixels=) override the data config
        self.nframes = nframes if nframes is not None else self.data.num_frames
        self.fps = self.data.fps
        self.max_pixels = max_pixels or self.data.max_frame_pixels
        tokens = settings["special_tokens"]
        self.special_ids = processor.tokenizer.convert_tokens_to_ids(list(tokens))
        self.device = backbone.device

    @property
    def info(self) -> dict:
        return {**super().info, "dimensions": list(videoalign.DIMENSIONS), "family": "videoreward",
                "normalized": bool(self.normalize and self.inference_config)}

    # ------------------------------------------------------------------ inputs
    def read_video(self, video, media_root=None, fps=None) -> videoalign.Frames:
        """One video in any form a record accepts (a path under `media_root`, bytes, a data URI,
        frames at `fps`: the record's), sampled as inference.py samples a file."""
        with open_video_source(video, replace(self.media, media_root=media_root), 0, fps,
                               backend="decord") as source:
            try:
                return videoalign.read_frames(source, self.max_pixels, self.fps, self.nframes,
                                              self.data.sample_type)
            except (ConfigError, MediaError):
                raise
            except ValueError as exc:  # frame_count: a clip too short for its rule
                raise MediaError(f"{source.name}: {exc}") from None

    def text(self, prompt: str) -> str:
        """The rendered chat text of one video + prompt (inference.py prepare_batch)."""
        messages = [{"role": "user", "content": [
            {"type": "video"},
            {"type": "text", "text": videoalign.build_prompt(prompt, self.data.prompt_template_type)}]}]
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def batch(self, items: list[tuple[str, videoalign.Frames]]):
        """Processor inputs: padded ids and the frames' pixel values, not resized again."""
        return self.processor(text=[self.text(p) for p, _ in items], videos=[f.video for _, f in items],
                              padding=True, return_tensors="pt", do_resize=False,
                              cap_pixels_per_frame=False).to(self.device)

    # ------------------------------------------------------------------ model
    @inference_mode
    def raw_rewards(self, batch) -> torch.Tensor:
        """[B, 3] head outputs at the VQ, MQ, TA tokens (trainer.py Qwen2VLRewardModelBT.forward)."""
        ids = batch["input_ids"]
        pooled = self.head(reward_bt.special_rows(ids, reward_bt.hidden_states(self.backbone, batch),
                                                  self.special_ids))  # [B, 3, output_dim]
        if pooled.shape[-1] == len(self.special_ids):
            pooled = pooled.diagonal(dim1=1, dim2=2)
        return pooled.reshape(ids.shape[0], -1).float()

    def rewards(self, raw: list[float]) -> dict[str, float]:
        values = dict(zip(videoalign.DIMENSIONS, raw))
        if self.normalize:
            values = videoalign.normalize(values, self.inference_config)
        return {**values, "Overall": videoalign.overall(values)}

    # ------------------------------------------------------------------ scoring
    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        def prepare(record):
            files = candidate_media(record, ("videos",))
            frames = []
            for i, (_, video) in enumerate(files):
                try:
                    frames.append((record["prompt"], self.read_video(video, media_root, record.get("fps"))))
                except MediaError as exc:  # keeps its kind (a file not found is retryable)
                    raise type(exc)(f"candidate {i}: {exc}") from None
            return frames

        def run(items):
            raw = self.raw_rewards(self.batch(items))
            return [self.rewards(row) for row in raw.tolist()]

        def finish(record, _items, outs):
            return scored([o["Overall"] for o in outs], {d: [o[d] for o in outs] for d in videoalign.DIMENSIONS})

        return score_chunk(records, prepare, run, finish, fixed_batches(batch_size))

    def save_pretrained(self, directory) -> None:
        """The converted mmreward checkpoint: the merged backbone and its processor (reward tokens
        added) as an ordinary transformers directory, `rm_head.safetensors` and
        `videoreward_config.json` (the official configs this loader reads)."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(directory)
        self.processor.save_pretrained(directory)
        save_file({"weight": self.head.weight.detach().contiguous().cpu()}, str(directory / HEAD_FILE))
        (directory / CONVERTED_CONFIG).write_text(json.dumps(self.settings, indent=2) + "\n")


# ---------------------------------------------------------------------- loading


def detect(path: Path) -> bool:
    return is_release_dir(path) or is_converted_dir(path)


def _processor(base: str):
    """train_reward.py create_model_and_processor: the base model's processor, right padding, the
    three reward tokens added as additional special tokens (ids after the base vocabulary)."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(base)
    except OSError as exc:
        raise ConfigError(f"VideoReward base {base!r}: cannot load its processor ({exc}); "
                          "pass base=DIR (a local Qwen2-VL-2B-Instruct)") from None
    processor.tokenizer.padding_side = "right"
    processor.tokenizer.add_special_tokens({"additional_special_tokens": list(videoalign.SPECIAL_TOKENS)})
    return processor


def load(name_or_path, mode: str | None, options: VideoRewardOptions) -> VideoRewardModel:
    """A VideoReward release directory (or its converted form) -> VideoRewardModel."""
    from mmreward.models.backbone import default_device, resolve_dtype

    opts = options.given()
    path = Path(os.path.expanduser(str(name_or_path)))
    device = default_device(opts.get("device"))
    dtype = resolve_dtype(opts.get("dtype"), device)
    if is_converted_dir(path):
        backbone, processor, head, settings = _load_converted(path, dtype, device, opts)
    else:
        backbone, processor, head, settings = _load_release(path, dtype, device, opts)
    return VideoRewardModel(backbone, processor, head, settings, str(path),
                            normalize=options.normalize, nframes=opts.get("video_frames"),
                            max_pixels=opts.get("video_max_pixels") or opts.get("max_pixels"),
                            media=MediaOptions.with_caps(opts))


def _settings(cfg: dict) -> dict:
    model_cfg = cfg["model_config"]
    if not model_cfg.get("use_special_tokens") or model_cfg.get("reward_token", "special") != "special":
        raise ConfigError("VideoReward checkpoint does not read the special reward tokens "
                          "(model_config.use_special_tokens); only the released layout is supported")
    output_dim = int(model_cfg.get("output_dim", 1))
    if output_dim not in (1, len(videoalign.DIMENSIONS)):
        raise ConfigError(f"VideoReward output_dim {output_dim}: expected 1 or 3")
    data = {k: v for k, v in cfg["data_config"].items() if k not in ("meta_data", "data_dir")}
    return {"data_config": data, "inference_config": cfg.get("inference_config"),
            "output_dim": output_dim, "special_tokens": list(videoalign.SPECIAL_TOKENS),
            "source": "KwaiVGI/VideoAlign"}


def _head(weight: torch.Tensor, dtype, device) -> nn.Linear:
    from torch import nn

    head = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    head.weight.data = weight.to(dtype)
    return head.to(device).eval()


def _load_release(path: Path, dtype, device, opts: dict):
    cfg = read_model_config(path)
    settings = _settings(cfg)
    base = resolve_base(path, cfg["model_config"].get("model_name_or_path") or "", opts.get("base"))
    processor = _processor(base)
    backbone_state, head_state = load_release_state(path, opts.get("checkpoint_step"), cfg["peft_lora_config"])
    backbone = reward_bt.release_backbone("VideoReward", base, backbone_state, len(processor.tokenizer), dtype,
                                          device, opts.get("attn_implementation"))
    if head_state["weight"].shape[0] != settings["output_dim"]:
        raise ConfigError(f"rm_head has {head_state['weight'].shape[0]} outputs, model_config says "
                          f"{settings['output_dim']}")
    return backbone, processor, _head(head_state["weight"], dtype, device), settings


def _load_converted(path: Path, dtype, device, opts: dict):
    from safetensors.torch import load_file

    from mmreward.models.backbone import load_backbone

    for key in ("checkpoint_step", "base"):
        if key in opts:
            raise ConfigError(f"{path} is a converted VideoReward checkpoint; {key} applies to the release only")
    settings = json.loads((path / CONVERTED_CONFIG).read_text())
    # an ordinary transformers directory (Qwen2-VL, right padding): the shared backbone loader
    backbone, processor, _ = load_backbone(path, backbone_options({**opts, "device": device}))
    head = _head(load_file(str(path / HEAD_FILE))["weight"], dtype, device)
    return backbone, processor, head, settings


FAMILY = Family(
    name="videoreward", title="VideoReward", loader="mmreward.presets.videoreward:load",
    options=VideoRewardOptions, detect="mmreward.presets.videoreward:detect", modes=("scalar",),
    catalog=({"name": "KwaiVGI/VideoReward", "backbone": "Qwen2-VL-2B + LoRA",
              "kind": "scalar: linear head at the VQ/MQ/TA reward tokens",
              "outputs": "rewards = Overall (VQ+MQ+TA, normalised), dimensions VQ/MQ/TA",
              "needs": "the release directory (model_config.json, checkpoint-*/model.pth) and its base "
                       "Qwen2-VL-2B-Instruct",
              "use": "mmreward score --model VIDEOREWARD_DIR --input IN --output OUT"},),
)
