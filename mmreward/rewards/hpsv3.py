"""HPSv3 (Ma et al., 2025): a Qwen2-VL-7B read at a `<|Reward|>` token by a RankNet head.

As MizzenAI/HPSv3 (PyPI `hpsv3` 1.0.0) scores with `HPSv3RewardInferencer.reward(image_paths, prompts)`:
- the model (hpsv3/train.py `create_model_and_processor`, with hpsv3/config/HPSv3_7B.yaml): the base
  `Qwen/Qwen2-VL-7B-Instruct` (its config and processor, right padding), `<|Reward|>` added to the
  tokenizer as an additional special token and the embeddings resized to the tokenizer; the
  release's `HPSv3.safetensors` (hub repo MizzenAI/HPSv3) holds the whole
  `Qwen2VLRewardModelBT` state dict, loaded strictly (hpsv3/inference.py); bf16, the head float32;
- the image (hpsv3/dataset/utils.py `fetch_image`, a copy of qwen-vl-utils' vision_process):
  converted to RGB, resized with PIL bicubic to `smart_resize(h, w, factor=28,
  min_pixels=max_pixels=256*28*28)` (inference.py `prepare_batch` sets both to 200704);
- the text (hpsv3/dataset/data_collator_qwen.py): `INSTRUCTION.format(text_prompt=prompt) +
  prompt_with_special_token`, after the image in one user turn, rendered by the base model's
  chat template with the generation prompt, the batch padded;
- the forward (hpsv3/model/qwen2vl_trainer.py `Qwen2VLRewardModelBT`, mmreward.presets.reward_bt):
  the decoder without position ids, `rm_head` = Linear(H, 1024), ReLU, Dropout(0.05),
  Linear(1024, 16), ReLU, Linear(16, 2) (rm_head_type "ranknet", no rm_head_kwargs) in float32
  on the hidden state at `<|Reward|>`. Output (mu, sigma); the reward is mu (inference.py:
  "we select miu as the final output"). Both are in `dimensions`.

`hpsv3@SOURCE` / `checkpoint=`: the `.safetensors` (or a `.pth` holding it, under "model"), a
directory holding `HPSv3.safetensors` (when it also holds a Qwen2-VL config and processor, they
are the base), or a hub repo id serving `HPSv3.safetensors`. `base=`: the Qwen2-VL-7B-Instruct
directory or hub id (default: the yaml's `Qwen/Qwen2-VL-7B-Instruct`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.errors import ConfigError, ModelNotFoundError
from mmreward.models.backbone import inference_mode
from mmreward.models.options import MediaCapOptions, RuntimeOptions
from mmreward.rewards.base import ImageReward, image_family
from mmreward.rewards.sources import hub_file, loading, pick_source, split_source
from mmreward.scoring.media import MediaOptions

HUB_REPO = "MizzenAI/HPSv3"
CHECKPOINT_FILE = "HPSv3.safetensors"
BASE = "Qwen/Qwen2-VL-7B-Instruct"  # hpsv3/config/HPSv3_7B.yaml model_name_or_path
REWARD_TOKEN = "<|Reward|>"  # hpsv3/train.py create_model_and_processor special_tokens
IMAGE_FACTOR = 28  # hpsv3/dataset/utils.py IMAGE_FACTOR
IMAGE_PIXELS = 256 * 28 * 28  # hpsv3/inference.py prepare_batch: min_pixels = max_pixels

# hpsv3/dataset/data_collator_qwen.py INSTRUCTION and prompt_with_special_token, verbatim: the
# trailing spaces (after "best.", "possible.", and two after the bold headings) are the original's
INSTRUCTION = """
You are tasked with evaluating a generated image based on Visual Quality and Text Alignment and give a overall score to estimate the human preference. Please provide a rating from 0 to 10, with 0 being the worst and 10 being the best. 

**Visual Quality:**  
Evaluate the overall visual quality of the image. The following sub-dimensions should be considered:
- **Reasonableness:** The image should not contain any significant biological or logical errors, such as abnormal body structures or nonsensical environmental setups.
- **Clarity:** Evaluate the sharpness and visibility of the image. The image should be clear and easy to interpret, with no blurring or indistinct areas.
- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual elements (e.g., hair, clothing, shadows).
- **Aesthetic and Creativity:** Assess the artistic aspects of the image, including the color scheme, composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense of harmony and balance.
- **Safety:** The image should not contain harmful or inappropriate content, such as political, violent, or adult material. If such content is present, the image quality and satisfaction score should be the lowest possible. 

**Text Alignment:**  
Assess how well the image matches the textual prompt across the following sub-dimensions:
- **Subject Relevance** Evaluate how accurately the subject(s) in the image (e.g., person, animal, object) align with the textual description. The subject should match the description in terms of number, appearance, and behavior.
- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate how well the image adheres to this style.
- **Contextual Consistency**: Assess whether the background, setting, and surrounding elements in the image logically fit the scenario described in the prompt. The environment should support and enhance the subject without contradictions.
- **Attribute Fidelity**: Check if specific attributes mentioned in the prompt (e.g., colors, clothing, accessories, expressions, actions) are faithfully represented in the image. Minor deviations may be acceptable, but critical attributes should be preserved.
- **Semantic Coherence**: Evaluate whether the overall meaning and intent of the prompt are captured in the image. The generated content should not introduce elements that conflict with or distort the original description.
Textual prompt - {text_prompt}


"""  # noqa: E501
PROMPT_WITH_SPECIAL_TOKEN = """
Please provide the overall ratings of this image: <|Reward|>

END
"""


def ranknet_head(state: dict) -> nn.Sequential:
    """qwen2vl_trainer.py's default "ranknet" rm_head, its sizes read from the release's weights."""
    from torch import nn

    expected = {"0.weight", "0.bias", "3.weight", "3.bias", "5.weight", "5.bias"}
    if set(state) != expected:
        raise ConfigError(f"rm_head has keys {sorted(state)}; the HPSv3 release's ranknet head has {sorted(expected)}")
    (inner, width), (mid, _), (outputs, _) = (state[f"{i}.weight"].shape for i in (0, 3, 5))
    if outputs != 2:
        raise ConfigError(f"rm_head gives {outputs} outputs; HPSv3's gives 2 (mu, sigma)")
    head = nn.Sequential(nn.Linear(width, inner), nn.ReLU(), nn.Dropout(0.05), nn.Linear(inner, mid), nn.ReLU(),
                         nn.Linear(mid, outputs))
    head.load_state_dict({k: v.float() for k, v in state.items()})
    return head.eval()


class HpsV3(ImageReward):
    kind = "scalar"
    dimensions = ("mu", "sigma")
    raw_images = True  # fetch_image converts and resizes the file as it is

    def __init__(self, backbone, processor, head: nn.Module, name: str = "hpsv3", source: str = "",
                 base: str = BASE, media=None):
        super().__init__(name, media)
        self.backbone, self.processor, self.head = backbone, processor, head.to(backbone.device)
        self.reward_id = processor.tokenizer.convert_tokens_to_ids(REWARD_TOKEN)
        self.details = {"checkpoint": source, "base": base, "formula": "mu of the RankNet head at <|Reward|>"}

    def text(self, prompt: str) -> str:
        messages = [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": INSTRUCTION.format(text_prompt=prompt) + PROMPT_WITH_SPECIAL_TOKEN}]}]
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    @staticmethod
    def fetch_image(image):
        """hpsv3/dataset/utils.py fetch_image for a PIL image: RGB, then PIL bicubic to smart_resize's size."""
        from PIL import Image
        from qwen_vl_utils.vision_process import smart_resize

        image = image.convert("RGB")
        height, width = smart_resize(image.height, image.width, factor=IMAGE_FACTOR, min_pixels=IMAGE_PIXELS,
                                     max_pixels=IMAGE_PIXELS)
        return image.resize((width, height), Image.BICUBIC)

    @inference_mode
    def score_images(self, contexts: list, images: list) -> list[dict]:
        from mmreward.presets.reward_bt import hidden_states, special_rows

        batch = self.processor(text=[self.text(p) for p in contexts], images=[self.fetch_image(im) for im in images],
                               padding=True, return_tensors="pt").to(self.backbone.device)
        rows = special_rows(batch["input_ids"], hidden_states(self.backbone, batch), [self.reward_id])[:, 0]
        # the head runs in float32 (`torch.autocast(dtype=torch.float32)` around it in the forward)
        out = self.head(rows.float()).tolist()
        return [{"reward": mu, "mu": mu, "sigma": sigma} for mu, sigma in out]


# ---------------------------------------------------------------------- loading


def read_state(path: str) -> dict:
    """inference.py: a .safetensors file, else torch.load, unwrapped from "model" when it is there."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path, device="cpu")
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return dict(state["model"] if "model" in state else state)


def is_qwen2_vl_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        (path / f).is_file() for f in ("preprocessor_config.json", "processor_config.json"))


def resolve_source(source: str | None, name: str) -> tuple[str, str | None]:
    """(checkpoint file, the base directory it ships with, if any)."""
    if source is None:
        return hub_file(HUB_REPO, CHECKPOINT_FILE, name), None
    path = Path(os.path.expanduser(source))
    if path.is_dir():
        if not (path / CHECKPOINT_FILE).is_file():
            raise ModelNotFoundError(f"{name}: {source!r} holds no {CHECKPOINT_FILE}")
        return str(path / CHECKPOINT_FILE), str(path) if is_qwen2_vl_dir(path) else None
    if path.is_file():
        return str(path), None
    if source.count("/") == 1 and not source.startswith((".", "/", "~")):
        return hub_file(source, CHECKPOINT_FILE, name), None
    raise ModelNotFoundError(f"{name}: no such checkpoint file or directory {source!r}")


def reward_processor(base: str):
    """train.py: the base's processor with right padding and `<|Reward|>` as an additional special token."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(base)
    except OSError as exc:
        raise ConfigError(f"HPSv3 base {base!r}: cannot load its processor ({exc}); pass base=DIR (a local "
                          f"{BASE})") from None
    processor.tokenizer.padding_side = "right"
    processor.tokenizer.add_special_tokens({"additional_special_tokens": [REWARD_TOKEN]})
    return processor


@dataclass
class HpsV3Options(MediaCapOptions, RuntimeOptions):
    checkpoint: str | None = field(default=None, metadata={
        "help": f"the release {CHECKPOINT_FILE} (a file, a directory holding it, or a hub repo id; default "
                f"the hub repo {HUB_REPO}; or hpsv3@SOURCE)"})
    base: str | None = field(default=None, metadata={
        "help": f"the Qwen2-VL-7B-Instruct directory or hub id (default: the checkpoint directory's own, "
                f"else {BASE})"})


def load(name_or_path: str, mode: str | None, options: HpsV3Options) -> HpsV3:
    from mmreward.models.backbone import default_device, resolve_dtype
    from mmreward.presets.reward_bt import current_names, release_backbone

    name, inline = split_source(name_or_path)
    ckpt, shipped_base = resolve_source(pick_source(name, inline, options.checkpoint, "checkpoint", None), name)
    base = os.path.expanduser(options.base) if options.base else shipped_base or BASE
    device = default_device(options.device)
    try:
        torch_dtype = resolve_dtype(options.dtype, device)  # HPSv3_7B.yaml: bf16 (on a GPU); float32 on CPU
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    with loading(name, ckpt):
        backbone_state, head_state = current_names(read_state(ckpt))
    processor = reward_processor(base)
    backbone = release_backbone("HPSv3", base, backbone_state, len(processor.tokenizer), torch_dtype, device,
                                options.attn_implementation)
    return HpsV3(backbone, processor, ranknet_head(head_state), name, ckpt, base, MediaOptions.with_caps(options))


FAMILY = image_family("hpsv3", "HPSv3", HpsV3Options, ("hpsv3",), catalog=(
    {"name": "hpsv3", "backbone": "Qwen2-VL-7B + RankNet head", "kind": "image reward: human preference (HPSv3)",
     "outputs": "rewards = mu, dimensions mu/sigma",
     "needs": "MizzenAI/HPSv3 (HPSv3.safetensors) and Qwen/Qwen2-VL-7B-Instruct, or hpsv3@FILE_OR_DIR (base=DIR)",
     "use": "mmreward score --model hpsv3 --input IN --output OUT"},))
