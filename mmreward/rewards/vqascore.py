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

import torch

from mmreward.api import RewardModel, load_qwen_vl
from mmreward.errors import ConfigError
from mmreward.models.generative import YesTokenRewardModel
from mmreward.rewards.sources import pick_source, split_source
from mmreward.scoring.engine import Plan, Scorer
from mmreward.scoring.prompts import Prompt
from mmreward.scoring.records import Item, RecordError

DEFAULT_CHECKPOINT = "Qwen/Qwen2.5-VL-7B-Instruct"  # t2v_metrics' 'qwen2.5-vl-7b'
QUESTION_TEMPLATE = 'Does this figure show "{}"? Please answer yes or no.'
ANSWER = "Yes"
# load options that would change the question or how it is read: VQAScore's are fixed
JUDGE_OPTIONS = ("form", "both_orders", "criteria", "rationale_tokens", "temperature", "normalization",
                 "dimensions", "head_inner_size")


class AnswerProbability(YesTokenRewardModel):
    """P(answer) = softmax over the whole vocabulary at the last prompt token, at the answer's first token."""

    def forward(self, **batch) -> torch.Tensor:
        logits = self.backbone.get_output_embeddings()(self.answer_hidden(batch)).float()
        return logits.softmax(dim=-1)[:, self.yes_id]


class VqaScorer(Scorer):
    def __init__(self, module, processor, config, budget, question_template: str):
        super().__init__(module, processor, config, budget)
        self.question_template = question_template

    def plan(self, item: Item) -> Plan:
        prompts = []
        for j, cand in enumerate(item.candidates):
            if not (cand.images or cand.videos):
                raise RecordError(f"candidate {j}: VQAScore judges an image or a video, got none")
            content = [{"type": "image"} for _ in cand.images] + [{"type": "video"} for _ in cand.videos]
            content.append({"type": "text", "text": self.question_template.format(item.prompt)})
            prompts.append(Prompt([{"role": "user", "content": content}], list(cand.images), list(cand.videos)))

        def combine(p_yes: list[float]) -> dict:
            return {"rewards": list(p_yes), "preferred": max(range(len(p_yes)), key=p_yes.__getitem__),
                    "p_yes": list(p_yes)}

        return Plan(prompts, combine)


class VqaScore(RewardModel):
    kind = "vqascore"  # pointwise P(yes): best-of-N ranks it pointwise, not by pairs

    def __init__(self, base: RewardModel, question_template: str, answer: str):
        tokenizer = base.processor.tokenizer
        answer_ids = tokenizer.encode(answer, add_special_tokens=False)
        if not answer_ids:
            raise ConfigError(f"vqascore: the answer {answer!r} has no tokens")
        module = AnswerProbability(base.module.backbone, answer_ids[0], answer_ids[0], base.config)
        super().__init__(module, base.processor, base.config, base.path, base.media, base.budget)
        self.scorer = VqaScorer(module, base.processor, base.config, base.budget, question_template)
        self.question_template, self.answer = question_template, answer
        self.name = f"vqascore@{base.path}"

    @property
    def info(self) -> dict:
        return {**super().info, "kind": self.kind, "question_template": self.question_template,
                "answer": self.answer, "answer_token_id": self.module.yes_id}


def load(name_or_path: str, mode: str | None = None, *, checkpoint: str | None = None,
         question_template: str = QUESTION_TEMPLATE, answer: str = ANSWER, **options) -> VqaScore:
    name, inline = split_source(name_or_path)
    if mode not in (None, "generative"):
        raise ConfigError(f"{name} reads P({answer!r}); mode {mode!r} does not apply")
    given = sorted(k for k in JUDGE_OPTIONS if options.get(k) is not None)
    if given:
        raise ConfigError(f"option(s) {', '.join(given)} do not apply to {name}: its question is "
                          "question_template, its answer `answer`")
    try:
        filled = question_template.format("\0")
    except (IndexError, KeyError, ValueError):
        filled = ""
    if "\0" not in filled:
        raise ConfigError(f"{name}: question_template must hold one '{{}}' (where the prompt goes) and no other "
                          f"braces, got {question_template!r}")
    source = pick_source(name, inline, checkpoint, "checkpoint", DEFAULT_CHECKPOINT)
    return VqaScore(load_qwen_vl(source, "generative", **options), question_template, answer)
