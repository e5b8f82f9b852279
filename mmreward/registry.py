"""Which loader `mmreward.load(name_or_path, preset=...)` hands a name to.

Every entry is a "module:function" string, imported only when it is chosen, so
`import mmreward` stays light and a missing optional extra only breaks the
models that need it. A loader is called as `fn(name_or_path, mode=..., **kwargs)`
and returns a `mmreward.scoring.base.BaseRewardModel`.

Resolution order (first match wins):
1. `preset=NAME`, or a hub id that `PRESET_FOR_HUB_ID` knows -> `PRESETS[NAME]`;
2. a name with a registered prefix (`combo:...`) -> `PREFIXES[prefix]`;
3. a registered short name (`pickscore`, `ocr`, ...) -> `NAMED[name]`;
4. a local directory whose files a `LAYOUTS` detector recognises (VideoReward, Skywork);
5. otherwise the Qwen-VL reward model (`mmreward.api.load_qwen_vl`).
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Callable

#: preset name -> loader; the caller passes `preset=NAME`
PRESETS: dict[str, str] = {}
#: hub id (case-insensitive) -> preset name, for released models that need one
PRESET_FOR_HUB_ID: dict[str, str] = {}
#: name prefix -> loader (the loader gets the whole name)
PREFIXES: dict[str, str] = {}
#: short name -> loader
NAMED: dict[str, str] = {}
#: (detector "module:function" taking a directory -> bool, loader), tried in order on directories
LAYOUTS: list[tuple[str, str]] = []

#: what `mmreward models` lists: one dict per known model, with keys "name" (hub id or short
#: name), "backbone", "kind", "outputs", "needs" (extra / checkpoint), "use" (the command line)
CATALOG: list[dict] = []


def resolve_callable(spec: str) -> Callable:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def preset_for(name_or_path) -> str | None:
    return PRESET_FOR_HUB_ID.get(str(name_or_path).lower())


def find_loader(name_or_path, preset: str | None = None) -> Callable | None:
    """The loader for this name (None: the default Qwen-VL reward model)."""
    from mmreward.errors import ConfigError

    name = str(name_or_path)
    preset = preset or preset_for(name)
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; known presets: {', '.join(sorted(PRESETS)) or 'none'}")
        return resolve_callable(PRESETS[preset])
    for prefix, spec in PREFIXES.items():
        if name.startswith(prefix):
            return resolve_callable(spec)
    if name in NAMED:
        return resolve_callable(NAMED[name])
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        for detector, spec in LAYOUTS:
            if resolve_callable(detector)(path):
                return resolve_callable(spec)
    return None


# ---------------------------------------------------------------- released reward models (mmreward.presets)
LAYOUTS += [
    ("mmreward.presets.videoreward:detect", "mmreward.presets.videoreward:load"),
    ("mmreward.presets.skywork:detect", "mmreward.presets.skywork:load"),
]
PRESETS.update({
    "unifiedreward": "mmreward.presets.unifiedreward:load",
    "unifiedreward-think": "mmreward.presets.unifiedreward:load",
})
PRESET_FOR_HUB_ID.update({
    # hub ids named by CodeGoat24/UnifiedReward's README and inference scripts
    **{f"codegoat24/unifiedreward-qwen-{size}": "unifiedreward" for size in ("3b", "7b", "32b", "72b")},
    **{f"codegoat24/unifiedreward-2.0-qwen-{size}": "unifiedreward" for size in ("3b", "7b", "32b", "72b")},
    "codegoat24/unifiedreward-think-qwen-7b": "unifiedreward-think",
    **{f"codegoat24/unifiedreward-think-qwen3vl-{size}": "unifiedreward-think"
       for size in ("2b", "4b", "8b", "32b")},
})
CATALOG += [
    {"name": "KwaiVGI/VideoReward", "backbone": "Qwen2-VL-2B + LoRA",
     "kind": "scalar: linear head at the VQ/MQ/TA reward tokens",
     "outputs": "rewards = Overall (VQ+MQ+TA, normalised), dimensions VQ/MQ/TA",
     "needs": "the release directory (model_config.json, checkpoint-*/model.pth) and its base Qwen2-VL-2B-Instruct",
     "use": "mmreward score --model VIDEOREWARD_DIR --input IN --output OUT"},
    *({"name": name, "backbone": backbone, "kind": kind, "needs": "the checkpoint (hub id picks the preset)",
       "outputs": f"rewards from the verdict{where}, judge_text, verdict_parsed",
       "use": f"mmreward score --model {example} --input IN --output OUT"}
      for name, backbone, kind, where, example in (
          ("CodeGoat24/UnifiedReward-qwen-{3b,7b,32b,72b}", "Qwen2.5-VL",
           "generative judge: pair-rank, point-score (images, videos)", "",
           "CodeGoat24/UnifiedReward-qwen-7b --task pair-rank"),
          ("CodeGoat24/UnifiedReward-2.0-qwen-{3b,7b,32b,72b}", "Qwen2.5-VL",
           "generative judge: pair-rank, point-score (the 1.0 prompts)", "",
           "CodeGoat24/UnifiedReward-2.0-qwen-7b --task point-score"),
          ("CodeGoat24/UnifiedReward-Think-qwen-7b", "Qwen2.5-VL-7B",
           "generative CoT judge: pair-rank (images, videos)", " in its answer tag",
           "CodeGoat24/UnifiedReward-Think-qwen-7b"),
          ("CodeGoat24/UnifiedReward-Think-qwen3vl-{2b,4b,8b,32b}", "Qwen3-VL",
           "generative CoT judge: pair-rank (images; videos as 8 JPEG frames each)", " in its answer tag",
           "CodeGoat24/UnifiedReward-Think-qwen3vl-8b"))),
    {"name": "Skywork/Skywork-VL-Reward-7B", "backbone": "Qwen2.5-VL-7B + value head",
     "kind": "scalar: value head on the last token of (images + question, answer)",
     "outputs": "rewards per text answer",
     "needs": "the checkpoint directory with value_head.safetensors",
     "use": "mmreward score --model SKYWORK_DIR --input IN --output OUT"},
]

# VR-Thinker (issue 22): the released checkpoints run with their authors' protocol (mmreward.presets.vrthinker)
PRESETS["vr-thinker"] = "mmreward.presets.vrthinker:load"
PRESET_FOR_HUB_ID.update({"qunwang13/vr-thinker": "vr-thinker", "qunwang13/vrthinker": "vr-thinker"})
CATALOG.append({
    "name": "qunwang13/vr-thinker, qunwang13/vrthinker", "backbone": "Qwen2.5-VL-7B",
    "kind": "video agent: select_frames tool calls, then a verdict per dimension (thinking with images)",
    "outputs": "rewards from OA (ties 0.5/0.5), dimensions TA/VQ/MQ, judgments, judge_text, trace, episode",
    "needs": "the checkpoint (hub id picks the preset; a directory: --preset vr-thinker --variant ...)",
    "use": "mmreward score --model qunwang13/vr-thinker --input IN --output OUT"})

# The image-generation rewards (mmreward/rewards/): `NAME` loads the released default,
# `NAME@PATH_OR_HUB_ID` another copy; `combo:` a weighted sum of any loadable models.
_IMAGE_REWARDS = {
    "clipscore": "mmreward.rewards.clipscore:load",
    "pickscore": "mmreward.rewards.pickscore:load",
    "hpsv2": "mmreward.rewards.hpsv2:load",
    "hpsv2.1": "mmreward.rewards.hpsv2:load",
    "aesthetic": "mmreward.rewards.aesthetic:load",
    "ocr": "mmreward.rewards.ocr:load",
}
NAMED.update(_IMAGE_REWARDS)
PREFIXES.update({f"{name}@": spec for name, spec in _IMAGE_REWARDS.items()})
PREFIXES["combo:"] = "mmreward.rewards.combo:load"
CATALOG.extend([
    {"name": "clipscore", "backbone": "CLIP ViT-B/32 (any CLIP/SigLIP)", "kind": "image reward: CLIP cosine",
     "outputs": "rewards = 2.5 * max(cos, 0)", "needs": "openai/clip-vit-base-patch32, or clipscore@DIR",
     "use": "mmreward score --model clipscore --input IN --output OUT"},
    {"name": "pickscore", "backbone": "CLIP-H (PickScore_v1)", "kind": "image reward: preference-tuned CLIP",
     "outputs": "rewards = exp(logit_scale) * cos",
     "needs": "yuvalkirstain/PickScore_v1 and the laion/CLIP-ViT-H-14-laion2B-s32B-b79K processor, or pickscore@DIR",
     "use": "mmreward score --model pickscore --input IN --output OUT"},
    *({"name": name, "backbone": "open_clip ViT-H-14", "kind": "image reward: preference-tuned CLIP",
       "outputs": "rewards = cos", "needs": f"extra [clip]; {file} from xswu/HPSv2, or {name}@FILE",
       "use": f"mmreward score --model {name}@{file} --input IN --output OUT"}
      for name, file in (("hpsv2", "HPS_v2_compressed.pt"), ("hpsv2.1", "HPS_v2.1_compressed.pt"))),
    {"name": "aesthetic", "backbone": "CLIP ViT-L/14 + LAION MLP", "kind": "image reward: aesthetic predictor",
     "outputs": "rewards = aesthetic score (1-10 scale)",
     "needs": "openai/clip-vit-large-patch14 and the head file sac+logos+ava1-l14-linearMSE.pth",
     "use": "mmreward score --model aesthetic@HEAD.pth --input IN --output OUT"},
    {"name": "ocr", "backbone": "PP-OCRv4 det + rec (ONNX)", "kind": "image reward: text rendering (Flow-GRPO)",
     "outputs": "rewards = 1 - normalised edit distance to the quoted text, ocr_text",
     "needs": "extra [ocr]; the weights ship in the rapidocr-onnxruntime wheel",
     "use": "mmreward score --model ocr --input IN --output OUT"},
    {"name": "combo:NAME=W,NAME=W", "backbone": "any loadable reward models", "kind": "weighted sum",
     "outputs": "rewards = the weighted sum, dimensions = each part", "needs": "what its parts need",
     "use": "mmreward score --model combo:pickscore=1,ocr=0.5 --input IN --output OUT"},
])
# `mmreward.load("http://HOST:PORT")`: a running `mmreward serve` (mmreward/serve/remote.py)
PREFIXES["http://"] = PREFIXES["https://"] = "mmreward.serve.remote:load_remote"
