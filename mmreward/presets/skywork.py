"""Skywork-VL-Reward (Skywork/Skywork-VL-Reward-7B): a Qwen2.5-VL-7B with a value head.

`mmreward.load(DIR)` recognises `value_head.safetensors` (`v_head.summary.weight` [1, hidden],
`v_head.summary.bias` [1]) beside an ordinary Qwen-VL checkpoint and scores as the model card's
example does (huggingface.co/Skywork/Skywork-VL-Reward-7B, README "Quick start"):
- messages: a user turn holding the record's image(s) (and videos) then the question, an
  assistant turn holding the candidate's text; `apply_chat_template(..., add_generation_prompt=
  False)`; media through qwen-vl-utils' `process_vision_info` (mmreward.presets.qwen_media);
- the model called as trl's `AutoModelForCausalLMWithValueHead` calls it (its own M-RoPE
  positions), the value head on the last hidden state (after the final norm): trl's ValueHead
  is created in float32 and casts the hidden state to its dtype;
- the reward is the value at the last non-padding token (`attention_mask.sum(-1) - 1`, right
  padding).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mmreward.errors import ConfigError, MediaError, RecordError
from mmreward.families import Family
from mmreward.models.backbone import inference_mode
from mmreward.models.options import MediaCapOptions, PixelOptions, RuntimeOptions
from mmreward.presets import qwen_media
from mmreward.presets.common import backbone_options, media_list
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.loop import fixed_batches, score_chunk
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.outputs import scored
from mmreward.scoring.records import check_record

VALUE_HEAD = "value_head.safetensors"
HEAD_KEYS = ("v_head.summary.weight", "v_head.summary.bias")


@dataclass
class SkyworkOptions(MediaCapOptions, PixelOptions, RuntimeOptions):
    """min_pixels / max_pixels: qwen-vl-utils' per-image bounds (the card's defaults are 4-16384
    visual tokens); video_frames / video_max_pixels: its per-video settings."""


def detect(path: Path) -> bool:
    if not (path / VALUE_HEAD).is_file() or not (path / "config.json").is_file():
        return False
    from safetensors import safe_open

    with safe_open(str(path / VALUE_HEAD), framework="pt") as f:
        return set(HEAD_KEYS) <= set(f.keys())


class SkyworkVLReward(BaseRewardModel):
    kind = "scalar"

    def __init__(self, backbone, processor, head: nn.Linear, path: str, media: dict):
        self.backbone, self.processor, self.head, self.name = backbone, processor, head, str(path)
        self.media = media
        self.media_opts = MediaOptions.with_caps(media)

    @property
    def info(self) -> dict:
        return {**super().info, "family": "skywork-vl-reward"}

    def media_content(self, record: dict, media_root) -> list[dict]:
        """The user turn's media: the record's images then its videos, in any form a record
        accepts (RecordError naming the one that cannot be used)."""
        opts = replace(self.media_opts, media_root=media_root)
        content = []
        try:
            for kind in ("images", "videos"):
                for k, value in enumerate(media_list(record, kind, "record")):
                    content.append(qwen_media.media_entry(self.processor, kind, value, opts, self.media, k,
                                                          record.get("fps")))
        except MediaError as exc:  # keeps its kind (a file not found is retryable)
            raise type(exc)(f"record: {exc}") from None
        return content

    def messages(self, record: dict, answer: str, media_root=None, content: list | None = None) -> list[dict]:
        """The card's conversation: the user turn (media, then the question), the answer."""
        content = self.media_content(record, media_root) if content is None else content
        user = [*content, {"type": "text", "text": record["prompt"]}]
        return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]

    @inference_mode
    def values(self, conversations: list[list[dict]]) -> list[float]:
        import torch

        texts = [self.processor.apply_chat_template(qwen_media.strip_media(m), tokenize=False,
                                                    add_generation_prompt=False) for m in conversations]
        media = qwen_media.processor_inputs(self.processor, [m for conv in conversations for m in conv])
        batch = self.processor(text=texts, padding=True, return_tensors="pt", **media).to(self.backbone.device)
        hidden = self.backbone.model(**batch, use_cache=False).last_hidden_state
        last = batch["attention_mask"].sum(dim=-1) - 1
        picked = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.head(picked.to(self.head.weight.dtype)).squeeze(-1).tolist()

    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        def prepare(record):
            check_record(record)
            for i, cand in enumerate(record["candidates"]):
                where = f"candidate {i}"
                if media_list(cand, "images", where) or media_list(cand, "videos", where) or cand.get("text") is None:
                    raise RecordError(f"candidate {i}: Skywork-VL-Reward scores text answers; the media "
                                      "belong on the record")
            content = self.media_content(record, media_root)  # read once, shared by the answers
            return [self.messages(record, cand["text"], content=content) for cand in record["candidates"]]

        def run(convs):
            return self.values(convs)

        def finish(record, _items, outs):
            return scored(outs)

        return score_chunk(records, prepare, run, finish, fixed_batches(batch_size))


def load(name_or_path, mode: str | None, options: SkyworkOptions) -> SkyworkVLReward:
    """A Qwen-VL checkpoint directory with value_head.safetensors -> SkyworkVLReward."""
    from safetensors.torch import load_file
    from torch import nn

    from mmreward.models.backbone import load_backbone

    opts = options.given()
    backbone, processor, path = load_backbone(name_or_path, backbone_options(opts))
    weights = load_file(str(Path(path) / VALUE_HEAD))
    weight, bias = (weights[k] for k in HEAD_KEYS)
    hidden = backbone.config.get_text_config().hidden_size
    if tuple(weight.shape) != (1, hidden) or tuple(bias.shape) != (1,):
        raise ConfigError(f"{path}/{VALUE_HEAD}: v_head.summary is {tuple(weight.shape)} + {tuple(bias.shape)}, "
                          f"expected (1, {hidden}) + (1,)")
    head = nn.Linear(hidden, 1)  # float32, as trl's ValueHead
    head.load_state_dict({"weight": weight.float(), "bias": bias.float()})
    return SkyworkVLReward(backbone, processor, head.to(backbone.device).eval(), path, opts)


FAMILY = Family(
    name="skywork-vl-reward", title="Skywork-VL-Reward", loader="mmreward.presets.skywork:load",
    options=SkyworkOptions, detect="mmreward.presets.skywork:detect", modes=("scalar",),
    catalog=({"name": "Skywork/Skywork-VL-Reward-7B", "backbone": "Qwen2.5-VL-7B + value head",
              "kind": "scalar: value head on the last token of (images + question, answer)",
              "outputs": "rewards per text answer",
              "needs": "the checkpoint directory with value_head.safetensors",
              "use": "mmreward score --model SKYWORK_DIR --input IN --output OUT"},),
)
