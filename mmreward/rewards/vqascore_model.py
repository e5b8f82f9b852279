"""VQAScore's model (`mmreward.rewards.vqascore`): the yes-token module read over the whole
vocabulary, its one-question-per-candidate plan, and the reward model around them."""
from __future__ import annotations

import torch

from mmreward.errors import ConfigError
from mmreward.models.generative import YesTokenRewardModel
from mmreward.qwen_vl import RewardModel
from mmreward.scoring.engine import Plan, Scorer
from mmreward.scoring.outputs import scored
from mmreward.scoring.prompts import Prompt
from mmreward.scoring.records import Item, RecordError


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
            return scored(p_yes, p_yes=list(p_yes))

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
