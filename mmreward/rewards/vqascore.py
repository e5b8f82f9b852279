"""VQAScore (Lin et al., ECCV 2024): P("Yes") of a VLM asked whether the image shows the prompt.

As linzhiqiu/t2v_metrics computes it for Qwen-VL models
(t2v_metrics/models/vqascore_models/qwen2vl_model.py `forward`): one user turn holding the
image (or video) and then the question, rendered by the checkpoint's chat template with the
generation prompt; one forward pass; the softmax over the whole vocabulary at the first answer
position, read at the first token of the answer ("Yes": `tokenizer.encode(answer)[0]`). The
standard question is t2v_metrics' default (t2v_metrics/models/vqascore_models/clip_t5_model.py
`default_question_template`, the paper's): 'Does this figure show "{}"? Please answer yes or no.'
with `{}` the prompt; `question_template=` / `answer=` change them (t2v_metrics' qwen2vl model
itself asks 'Does this image show "{}"?'). UniRL's GenEval2 reads the same quantity from
Qwen3-VL-8B per question.

Here it is the suite's yes-token model (`mmreward.models.generative`: the decoder's state at the
last prompt token, never a generate call) read over the full vocabulary, and the Qwen-VL engine
(token-budgeted batches), with one pointwise question per candidate whatever their number.

    mmreward.load("vqascore")                                  # Qwen/Qwen2.5-VL-7B-Instruct
    mmreward.load("vqascore@Qwen/Qwen3-VL-8B-Instruct")        # any Qwen-VL checkpoint ("tiny" too)
    mmreward.load("vqascore@DIR", question_template='Does this image show "{}"?')
"""
from __future__ import annotations

from dataclasses import dataclass, field

from mmreward.errors import ConfigError
from mmreward.families import Family
from mmreward.models.options import MediaCapOptions, PixelOptions, RuntimeOptions, TokenBudgetOptions
from mmreward.rewards.sources import pick_source, split_source

DEFAULT_CHECKPOINT = "Qwen/Qwen2.5-VL-7B-Instruct"  # t2v_metrics' 'qwen2.5-vl-7b'
QUESTION_TEMPLATE = 'Does this figure show "{}"? Please answer yes or no.'
ANSWER = "Yes"


@dataclass
class VqaScoreOptions(TokenBudgetOptions, MediaCapOptions, PixelOptions, RuntimeOptions):
    """The checkpoint's runtime, pixel and token options, and the question; the options that would
    change how the question is asked or read (criteria, form, both orders, ...) are not VQAScore's."""

    checkpoint: str | None = field(default=None, metadata={
        "help": f"the Qwen-VL checkpoint asked (or vqascore@CHECKPOINT; default {DEFAULT_CHECKPOINT})"})
    question_template: str = field(default=QUESTION_TEMPLATE, metadata={
        "help": "the question, '{}' where the prompt goes"})
    answer: str = field(default=ANSWER, metadata={"help": "the answer whose first token's probability is the reward"})


def load(name_or_path: str, mode: str | None, options: VqaScoreOptions):
    from mmreward.qwen_vl import FAMILY as QWEN_VL
    from mmreward.rewards.vqascore_model import VqaScore

    name, inline = split_source(name_or_path)
    template = options.question_template
    try:
        filled = template.format("\0")
    except (IndexError, KeyError, ValueError):
        filled = ""
    if "\0" not in filled:
        raise ConfigError(f"{name}: question_template must hold one '{{}}' (where the prompt goes) and no other "
                          f"braces, got {template!r}")
    source = pick_source(name, inline, options.checkpoint, "checkpoint", DEFAULT_CHECKPOINT)
    base = {k: v for k, v in options.given().items() if k not in ("checkpoint", "question_template", "answer")}
    return VqaScore(QWEN_VL.load(source, "generative", **base), template, options.answer)


FAMILY = Family(
    name="vqascore", title="VQAScore", loader="mmreward.rewards.vqascore:load", options=VqaScoreOptions,
    names=("vqascore",), modes=("generative",),
    catalog=({"name": "vqascore@CHECKPOINT", "backbone": "any Qwen-VL checkpoint",
              "kind": "image/video reward: VQAScore",
              "outputs": "rewards = P('Yes' | media, 'Does this figure show \"{prompt}\"? ...'), p_yes",
              "needs": "the checkpoint (default Qwen/Qwen2.5-VL-7B-Instruct); tiny runs offline",
              "use": "mmreward score --model vqascore@Qwen/Qwen3-VL-8B-Instruct --input IN --output OUT"},),
)
