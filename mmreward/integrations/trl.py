"""A reward function for TRL's `GRPOTrainer` that judges each completion with its images.

    from mmreward.integrations.trl import GRPOReward
    trainer = GRPOTrainer(model=..., reward_funcs=[GRPOReward("tiny")], train_dataset=ds, ...)

TRL (1.16, `GRPOTrainer._calculate_rewards`) calls a reward function with `prompts`,
`completions`, `completion_ids` and every other dataset column as a keyword argument, one
entry per completion: an `image` column arrives as `image=[...]` (one image per completion),
an `images` column as `images=[[...], ...]`; a `video`/`videos` column likewise. The same
images also sit in the prompt's `{"type": "image", "image": ...}` parts; each is used once.
It logs the returned floats as `rewards/<__name__>/mean`.

Each completion becomes one pointwise record: the prompt's question (the text of its last
user message), the prompt's images and videos, and the completion's text as the candidate.
The reward is the model's reward for it (P(yes) in generative mode). In process the images
are passed as they are; to a service URL they travel as data: URIs.
"""
from __future__ import annotations

from mmreward.integrations.common import check_on_error, images_in, reward_model, reward_values, text_of


def question_of(prompt) -> tuple[str, list]:
    """(question text, images inside the messages) of a standard or conversational prompt."""
    if isinstance(prompt, str):
        return prompt, []
    users = [m for m in prompt if m.get("role") == "user"] or list(prompt)
    last = users[-1]["content"]
    return text_of(last), images_in(last)


def completion_text(completion) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(text_of(m["content"]) for m in completion if m.get("role", "assistant") == "assistant")


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class GRPOReward:
    """`GRPOReward(model, **options)(prompts=..., completions=..., **columns) -> list[float]`.

    `model`: a loaded reward model, a name for `mmreward.load` ("tiny", a directory, a hub id)
    or a service URL. `criteria`: put into every question. `media_root`: where image and video
    paths in the dataset are. `on_error`: "raise" (default), "none" (TRL skips that reward),
    "nan", or a number to use instead. `name`: the name TRL logs the reward under.
    """

    def __init__(self, model="tiny", *, mode: str | None = None, criteria: str | None = None, media_root=None,
                 batch_size: int = 8, on_error="raise", name: str = "mmreward", **load_kwargs):
        check_on_error(on_error)
        self.model = reward_model(model, mode, **load_kwargs)
        self.criteria, self.media_root, self.batch_size, self.on_error = criteria, media_root, batch_size, on_error
        self.__name__ = name

    def records(self, prompts, completions, **columns) -> list[dict]:
        records = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            question, inline = question_of(prompt)
            column = lambda name: columns[name][i] if columns.get(name) is not None else None  # noqa: E731
            # TRL also puts the column's images into the prompt's image parts: count each once
            given = as_list(column("image")) + as_list(column("images"))
            record = {"id": i, "prompt": question,
                      "images": inline + [im for im in given if not any(im is seen for seen in inline)],
                      "videos": as_list(column("video")) + as_list(column("videos")),
                      "candidates": [{"text": completion_text(completion)}]}
            if column("fps") is not None:
                record["fps"] = column("fps")
            if self.criteria is not None:
                record["criteria"] = self.criteria
            records.append(record)
        return records

    def __call__(self, prompts, completions, completion_ids=None, **kwargs) -> list:
        columns = {k: kwargs.get(k) for k in ("image", "images", "video", "videos", "fps")}
        outputs = self.model.score(self.records(prompts, completions, **columns), self.media_root, self.batch_size)
        return reward_values(outputs, self.on_error)
