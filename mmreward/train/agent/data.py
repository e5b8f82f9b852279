"""Agent traces -> per-turn training sequences (input ids, labels, images) and a padded collator.

For assistant turn t the sequence is exactly what the model saw before writing it
(`context_for_turn`: the memory window applied as at inference, images of older tool
results replaced by their text placeholder) followed by the turn's own text and
`<|im_end|>`. Labels are -100 everywhere except that text and its `<|im_end|>`, so
system, user, tool-returned text and image tokens never enter the loss.

The prefix is rendered with `add_generation_prompt=True` and the completion is
tokenised on its own, the same split as at generation: the prompt ends with
`<|im_start|>assistant\\n` and everything after it is the model's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100


@dataclass
class TurnExample:
    input_ids: torch.Tensor  # [L]
    labels: torch.Tensor  # [L], IGNORE except the assistant turn's own tokens
    mm_token_type_ids: torch.Tensor  # [L], 1 on image tokens: the model derives M-RoPE positions from it
    pixel_values: torch.Tensor | None  # [patches, dim] of the images in the context
    image_grid_thw: torch.Tensor | None  # [images, 3]
    trace_index: int = 0  # which trace (rollout) the turn belongs to
    turn: int = 0


def completion_ids(tokenizer, text: str) -> list[int]:
    """The assistant text as the model writes it: its tokens, then `<|im_end|>`."""
    return tokenizer.encode(text, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def encode_turn(processor, context: list[dict], answer_ids: list[int]) -> TurnExample:
    """Tokenise one (context, assistant tokens) pair; the context must already hold PIL images."""
    from mmreward.agent.frames import images_of

    prompt = processor.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
    images = images_of(context)
    enc = processor(text=[prompt], images=images or None, return_tensors="pt")
    answer = torch.tensor(answer_ids, dtype=torch.long)
    prefix = enc["input_ids"][0]
    types = enc.get("mm_token_type_ids")
    types = types[0] if types is not None else (prefix == processor.image_token_id).long()
    return TurnExample(
        input_ids=torch.cat([prefix, answer]),
        labels=torch.cat([torch.full_like(prefix, IGNORE), answer]),
        # without it Qwen-VL falls back to 1-D positions: training would not see inference's positions
        mm_token_type_ids=torch.cat([types, torch.zeros_like(answer)]),
        pixel_values=enc.get("pixel_values"),
        image_grid_thw=enc.get("image_grid_thw"),
    )


def turn_answer_ids(trace, turn: int, tokenizer) -> list[int]:
    """The tokens of assistant turn `turn`: the sampled ids when the rollout kept them
    (exactly what the policy produced), else the text re-tokenised plus `<|im_end|>`."""
    sampled = getattr(trace, "turn_token_ids", None) or []
    if turn < len(sampled) and sampled[turn]:
        return list(sampled[turn])
    return completion_ids(tokenizer, trace.turns[turn])


def encode_trace_turn(trace, turn: int, processor, store, memory_window: int) -> TurnExample:
    """The training sequence of assistant turn `turn` of a Trace (context exactly as at inference)."""
    from mmreward.agent.context import context_for_turn
    from mmreward.agent.frames import materialize

    context = materialize(context_for_turn(trace.messages, turn, memory_window), store)
    ex = encode_turn(processor, context, turn_answer_ids(trace, turn, processor.tokenizer))
    ex.turn = turn
    return ex


def trace_examples(trace, processor, store, memory_window: int, trace_index: int = 0) -> list[TurnExample]:
    """One TurnExample per assistant turn of `trace`."""
    out = []
    for turn in range(len(trace.turns)):
        ex = encode_trace_turn(trace, turn, processor, store, memory_window)
        ex.trace_index = trace_index
        out.append(ex)
    return out


def collate_turns(examples: list[TurnExample], pad_id: int) -> dict:
    """Right-padded batch: input_ids, attention_mask, labels, mm_token_type_ids, pixel_values,
    image_grid_thw, trace_index."""
    length = max(len(e.input_ids) for e in examples)
    n = len(examples)
    input_ids = torch.full((n, length), pad_id, dtype=torch.long)
    labels = torch.full((n, length), IGNORE, dtype=torch.long)
    attention = torch.zeros((n, length), dtype=torch.long)
    types = torch.zeros((n, length), dtype=examples[0].mm_token_type_ids.dtype)
    for i, e in enumerate(examples):
        k = len(e.input_ids)
        input_ids[i, :k], labels[i, :k], attention[i, :k] = e.input_ids, e.labels, 1
        types[i, :k] = e.mm_token_type_ids
    batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "mm_token_type_ids": types,
             "trace_index": torch.tensor([e.trace_index for e in examples])}
    with_images = [e for e in examples if e.pixel_values is not None]
    if with_images:  # the model consumes all images of the batch in row order
        batch["pixel_values"] = torch.cat([e.pixel_values for e in with_images])
        batch["image_grid_thw"] = torch.cat([e.image_grid_thw for e in with_images])
    return batch


class TurnCollator:
    """`data_collator` for transformers.Trainer over TurnExamples."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, examples: list[TurnExample]) -> dict:
        batch = collate_turns(examples, self.pad_id)
        batch.pop("trace_index")
        return batch
