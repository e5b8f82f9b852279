"""UnifiedReward 1.0 / 2.0 / Think (CodeGoat24/UnifiedReward): generative judges on Qwen2.5-VL or
Qwen3-VL, asked their own prompts and read by their own parsing rules.

These checkpoints are plain VLMs, so the behaviour is a named preset:
`mmreward.load(DIR_OR_HUB_ID, preset="unifiedreward" | "unifiedreward-think", task=..., media=...)`
(the hub ids in its `FAMILY` spec pick it by themselves). Per question it does
what the official script does (`RECIPES` cites each): the media then the prompt in one user turn,
the checkpoint's chat template with the generation prompt, media through qwen-vl-utils
(`qwen_media`; the Qwen3-VL Think scripts instead send JPEG-q95 images to a vLLM server, which
`jpeg_inputs` reproduces), `model.generate(max_new_tokens=N)` decoded with special tokens skipped,
one question at a time as the scripts run them (`engine="vllm"`: every question of a chunk
submitted at once to a vLLM engine, `mmreward.engines`; same greedy texts). Decoding is greedy (`do_sample=False`; the
checkpoint's other generation settings, e.g. a repetition penalty, stay as the scripts had them).

Tasks: "pair-rank" (two candidates, one question: rewards [1, 0], [0, 1] or [0.5, 0.5]) and
"point-score" (one question per candidate: rewards = the parsed scores); the default picks
pair-rank for two candidates. Outputs add `judge_text` and `verdict_parsed` (one per question);
text without a verdict gets what the official rule gives it (a tie, a score of 0), flagged false.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from io import BytesIO
from typing import Callable, Literal

from mmreward.errors import ConfigError, MediaError, RecordError
from mmreward.families import Family
from mmreward.models.options import EngineOptions, MediaCapOptions, PixelOptions, RuntimeOptions
from mmreward.presets import qwen_media
from mmreward.presets import unifiedreward_prompts as P
from mmreward.presets.common import backbone_options, candidate_media
from mmreward.scoring.base import BaseRewardModel
from mmreward.scoring.loop import fixed_batches, score_chunk
from mmreward.scoring.media import MediaOptions, open_video_source
from mmreward.scoring.outputs import scored

TASKS = ("pair-rank", "point-score")
PRESETS = ("unifiedreward", "unifiedreward-think")


@dataclass
class UnifiedRewardOptions(EngineOptions, MediaCapOptions, PixelOptions, RuntimeOptions):
    """The preset and task; min_pixels / max_pixels / video_frames / video_max_pixels are
    qwen-vl-utils' per-item settings (default: the scripts' none)."""

    _minimum = {"max_new_tokens": 1}

    preset: Literal["unifiedreward", "unifiedreward-think"] | None = field(default=None, metadata={
        "help": "unifiedreward (1.0 and 2.0) or unifiedreward-think (default: the hub id's, else unifiedreward)"})
    task: Literal["pair-rank", "point-score"] | None = field(default=None, metadata={
        "help": "pair-rank (2 candidates, one verdict) or point-score (one score each). Default: pair-rank "
                "for 2 candidates"})
    media: Literal["image", "video"] | None = field(default=None, metadata={
        "help": "the candidates' media (default: read from the records)"})
    max_new_tokens: int | None = field(default=None, metadata={
        "help": "generation limit (default: the official script's, 512 to 4096)"})
JPEG_FRAMES = 8  # qwen3vl_infer_cot_video_generation.py extract_frames(num_frames=8)


# ---------------------------------------------------------------------- parsing rules

def pair_verdict(text: str, noun: str) -> tuple[list[float], bool]:
    """benchmark_evaluation/Qwen_evaluation/test_qwen_videogen_reward_bench.py: 'Video 1 is better'
    in the output -> A, elif 'Video 2 is better' -> B, else a tie ('same'); the image scripts
    (test_qwen_genAI_bench_image.py) look for "Image 1 is better" / "Image 2 is better" /
    "Both images are equally good" the same way. Only the stated tie counts as parsed."""
    for phrase, rewards in ((f"{noun} 1 is better", [1.0, 0.0]), (f"{noun} 2 is better", [0.0, 1.0]),
                            (f"Both {noun.lower()}s are equally good", [0.5, 0.5])):
        if phrase in text:
            return rewards, True
    return [0.5, 0.5], False


ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def think_verdict(text: str, noun: str) -> tuple[list[float], bool]:
    """UnifiedReward-Think answers in `<answer>Image 1 is better</answer>` (its prompts demand it);
    the verdict is read from the last answer block. Without one, the Think benchmark scripts'
    rule (the phrase anywhere in the output) decides, flagged as not parsed."""
    blocks = ANSWER.findall(text)
    if blocks:
        rewards, found = pair_verdict(blocks[-1], noun)
        if found:
            return rewards, True
    return pair_verdict(text, noun)[0], False


def final_score(text: str) -> tuple[float, bool]:
    """UnifiedReward's point-score rule (its DPO data construction, sift_dpo_data.py point_score):
    the first integer after the last 'Final Score:', else the first integer of the text, else 0.
    Parsed only when 'Final Score:' is followed by one."""
    tail = text.split("Final Score:")[-1].strip()
    numbers = re.findall(r"\d+", tail)
    score = int(numbers[0]) if numbers else 0
    return float(score), "Final Score:" in text and bool(numbers)


# ---------------------------------------------------------------------- recipes

@dataclass(frozen=True)
class Recipe:
    template: str  # with {prompt}
    max_new_tokens: int  # the script's generate(max_new_tokens=) / vLLM max_tokens
    parse: Callable[[str, str], tuple]
    inputs: str = "qwen-vl-utils"  # or "jpeg": JPEG-q95 images to the processor (the vLLM scripts)
    source: str = ""


def _score(text, noun):  # the point-score rule has no noun
    return final_score(text)


#: (variant, task, media) -> Recipe. Variants: "unifiedreward" (1.0 and 2.0: inference_qwen/),
#: "think" (UnifiedReward-Think/inference_qwen/), "think-qwen3vl" (its Qwen3-VL vLLM scripts).
RECIPES = {
    ("unifiedreward", "pair-rank", "image"): Recipe(P.PAIR_RANK_IMAGE, 512, pair_verdict,
                                                    source="inference_qwen/image_generation/qwen_pair_rank_image_generation.py"),
    ("unifiedreward", "pair-rank", "video"): Recipe(P.PAIR_RANK_VIDEO, 1024, pair_verdict,
                                                    source="inference_qwen/video_generation/qwen_pair_rank_video_generation.py"),
    ("unifiedreward", "point-score", "image"): Recipe(P.POINT_SCORE_IMAGE, 512, _score,
                                                      source="inference_qwen/image_generation/qwen_point_score_image_generation.py"),
    ("unifiedreward", "point-score", "video"): Recipe(P.POINT_SCORE_VIDEO, 1024, _score,
                                                      source="inference_qwen/video_generation/qwen_point_score_video_generation.py"),
    ("think", "pair-rank", "image"): Recipe(P.THINK_PAIR_RANK_IMAGE, 512, think_verdict,
                                            source="UnifiedReward-Think/inference_qwen/image_generation/qwen_infer_cot_image_generation.py"),
    ("think", "pair-rank", "video"): Recipe(P.THINK_PAIR_RANK_VIDEO, 1024, think_verdict,
                                            source="UnifiedReward-Think/inference_qwen/video_generation/qwen_infer_cot_video_generation.py"),
    # vllm_request.py: max_tokens 4096, images JPEG-encoded (quality 95) before the text
    ("think-qwen3vl", "pair-rank", "image"): Recipe(P.THINK_QWEN3VL_PAIR_RANK_IMAGE, 4096, think_verdict, "jpeg",
                                                    source="UnifiedReward-Think-qwen3vl-inference/qwen3vl_infer_cot_image_generation.py"),
    ("think-qwen3vl", "pair-rank", "video"): Recipe(P.THINK_QWEN3VL_PAIR_RANK_VIDEO, 4096, think_verdict, "jpeg",
                                                    source="UnifiedReward-Think-qwen3vl-inference/qwen3vl_infer_cot_video_generation.py"),
}
NOUNS = {"image": "Image", "video": "Video"}


def jpeg(image) -> "object":
    """qwen3vl_infer_cot_*.py _encode_image: RGB, JPEG quality 95 (then decoded, as the server does)."""
    from PIL import Image

    buf = BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=95)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def jpeg_frames(video, count: int = JPEG_FRAMES, opts: MediaOptions | None = None, fps=None) -> list:
    """qwen3vl_infer_cot_video_generation.py extract_frames: frames at
    np.linspace(0, frame_count - 1, 8).astype(int), RGB, each JPEG-encoded (decord decodes them
    here; the script seeks with OpenCV). `video`: any form a record accepts (frames at `fps`)."""
    import numpy as np
    from PIL import Image

    with open_video_source(video, opts or MediaOptions(), 0, fps, backend="decord") as source:
        idx = np.linspace(0, source.num_frames - 1, count).astype(int).tolist()
        return [jpeg(Image.fromarray(f)) for f in source.frames(idx)]


class UnifiedReward(BaseRewardModel):
    kind = "generative"

    def __init__(self, backbone, processor, path: str, variant: str, preset: str, options: dict, engine=None):
        from mmreward.engines import build_engine

        self.backbone, self.processor, self.name = backbone, processor, str(path)
        # the official scripts generate one question at a time: so does the HF engine
        self.engine = build_engine(engine, backbone, processor, str(path), hf_batch_size=1)
        self.variant, self.preset, self.options = variant, preset, options
        self.task, self.media = options.get("task"), options.get("media")
        self.media_opts = MediaOptions.with_caps(options)
        check_task(preset, [variant], self.task, self.media)

    @property
    def info(self) -> dict:
        return {**super().info, "family": "unifiedreward", "preset": self.preset, "variant": self.variant,
                "task": self.task, "engine": self.engine.name}

    def recipe(self, n_candidates: int, media: str) -> tuple[str, Recipe]:
        task = self.task or ("pair-rank" if n_candidates == 2 else "point-score")
        if self.media is not None and media != self.media:
            raise RecordError(f"the candidates are {media}s, the model was loaded with media={self.media!r}")
        if task == "pair-rank" and n_candidates != 2:
            raise RecordError(f"pair-rank judges exactly 2 candidates, got {n_candidates}")
        recipe = RECIPES.get((self.variant, task, media))
        if recipe is None:
            raise RecordError(f"{self.preset} has no official {task} prompt for {media}s")
        return task, recipe

    # ------------------------------------------------------------------ questions
    def question(self, prompt: str, files: list[tuple], recipe: Recipe, media_root=None, fps=None,
                 first: int = 0) -> dict:
        """One question: the rendered text and the processor's media arguments. `files`: (kind,
        media) of candidates `first`, `first` + 1, ... (media in any form a record accepts; `fps`:
        the record's, for videos given as frames)."""
        opts = replace(self.media_opts, media_root=media_root)
        media = []
        for i, (kind, value) in enumerate(files, start=first):
            try:
                if recipe.inputs == "jpeg":
                    images = ([jpeg(qwen_media.raw_image(value, opts))] if kind == "images"
                              else jpeg_frames(value, opts=opts, fps=fps))
                    media += [{"type": "image", "image": im} for im in images]
                else:
                    media.append(qwen_media.media_entry(self.processor, kind, value, opts, self.options, 0, fps))
            except MediaError as exc:  # keeps its kind (a file not found is retryable)
                raise type(exc)(f"candidate {i}: {exc}") from None
        messages = [{"role": "user", "content": media + [
            {"type": "text", "text": recipe.template.replace("{prompt}", prompt)}]}]
        text = self.processor.apply_chat_template(qwen_media.strip_media(messages), tokenize=False,
                                                  add_generation_prompt=True)
        if recipe.inputs == "jpeg":
            kwargs = {"images": [m["image"] for m in media]} if media else {}
        else:
            try:
                kwargs = qwen_media.processor_inputs(self.processor, messages)
            except MediaError as exc:
                raise type(exc)(f"question: {exc}") from None
        return {"text": text, "media": kwargs, "recipe": recipe}

    def inputs(self, question: dict):
        """The tensors the HF engine feeds the model for one question."""
        return self.processor(text=[question["text"]], padding=True, return_tensors="pt",
                              **question["media"]).to(self.backbone.device)

    def generate(self, questions: list[dict]) -> list[str]:
        """Greedy answers (the checkpoint's other generation settings kept), one per question."""
        from mmreward.engines import Request, Sampling

        settings = [Sampling(max_new_tokens=self.options.get("max_new_tokens") or q["recipe"].max_new_tokens)
                    for q in questions]
        completions = self.engine.generate([Request(q["text"], q["media"]) for q in questions], settings)
        return [c.text for c in completions]

    # ------------------------------------------------------------------ scoring
    def score_chunk(self, records: list, media_root=None, batch_size: int = 8) -> list[dict]:
        def prepare(record):
            files = candidate_media(record, ("images", "videos"))
            media = files[0][0][:-1]
            task, recipe = self.recipe(len(files), media)
            fps = record.get("fps")
            if task == "pair-rank":
                return [self.question(record["prompt"], files, recipe, media_root, fps)]
            return [self.question(record["prompt"], [f], recipe, media_root, fps, i) for i, f in enumerate(files)]

        def run(questions):  # a batch's questions, at once (the HF engine: one at a time)
            return self.generate(questions)

        def finish(record, _items, texts):
            media = candidate_media(record, ("images", "videos"))[0][0][:-1]
            task, recipe = self.recipe(len(record["candidates"]), media)
            parsed = [recipe.parse(t, NOUNS[media]) for t in texts]
            rewards = parsed[0][0] if task == "pair-rank" else [p[0] for p in parsed]
            return scored(rewards, judge_text=list(texts), verdict_parsed=[p[1] for p in parsed])

        return score_chunk(records, prepare, run, finish, fixed_batches(batch_size))


def check_task(preset: str, variants: list[str], task: str | None, media: str | None) -> None:
    if task is not None and task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if media is not None and media not in NOUNS:
        raise ConfigError(f"media must be 'image' or 'video', got {media!r}")
    if task is not None and not any(k[:2] == (v, task) for k in RECIPES for v in variants):
        tasks = sorted({k[1] for k in RECIPES if k[0] in variants})
        raise ConfigError(f"{preset} has no official {task} prompt (it has: {', '.join(tasks)})")


def load(name_or_path, mode: str | None, options: UnifiedRewardOptions) -> UnifiedReward:
    """A UnifiedReward checkpoint (directory or hub id) -> UnifiedReward."""
    from mmreward.models.backbone import load_backbone

    opts = options.given()
    preset = options.preset or FAMILY.hub_preset(str(name_or_path))[1] or "unifiedreward"
    check_task(preset, ["think", "think-qwen3vl"] if preset == "unifiedreward-think" else ["unifiedreward"],
               options.task, options.media)  # before minutes of loading
    from mmreward.engines import Engine, build_engine, check_engine, wants_vllm

    engine = options.engine
    if not isinstance(engine, Engine):
        check_engine(engine)  # before minutes of loading
    backbone, processor, path = load_backbone(name_or_path, backbone_options(opts), weights=not wants_vllm(engine))
    variant = "unifiedreward"
    if preset == "unifiedreward-think":
        variant = "think-qwen3vl" if backbone.config.model_type.startswith("qwen3_vl") else "think"
    engine = build_engine(engine, backbone, processor, path, hf_batch_size=1, dtype=options.dtype)
    return UnifiedReward(backbone, processor, path, variant, preset, {k: v for k, v in opts.items() if k != "engine"},
                         engine)


FAMILY = Family(
    name="unifiedreward", title="UnifiedReward", loader="mmreward.presets.unifiedreward:load",
    options=UnifiedRewardOptions, presets=PRESETS, modes=("generative",),
    # hub ids named by CodeGoat24/UnifiedReward's README and inference scripts
    hub_ids={"CodeGoat24/UnifiedReward-qwen-{3b,7b,32b,72b}": "unifiedreward",
             "CodeGoat24/UnifiedReward-2.0-qwen-{3b,7b,32b,72b}": "unifiedreward",
             "CodeGoat24/UnifiedReward-Think-qwen-7b": "unifiedreward-think",
             "CodeGoat24/UnifiedReward-Think-qwen3vl-{2b,4b,8b,32b}": "unifiedreward-think"},
    catalog=tuple(
        {"name": name, "backbone": backbone, "kind": kind, "outputs": f"rewards from the verdict{where}, "
         "judge_text, verdict_parsed", "needs": "the checkpoint (hub id picks the preset)",
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
)
