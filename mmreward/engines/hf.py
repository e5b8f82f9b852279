"""The transformers engine: `model.generate` and forward passes on the loaded model.

`batch_size` is how many requests one `generate` call takes (left-padded): 1 is how the official
UnifiedReward scripts run (one question at a time), None all of them at once.
"""
from __future__ import annotations

import copy

import torch

from mmreward.engines.base import Completion, Engine, Request, Sampling, decode, merge_media, per_request


def generation_config(model, sampling: Sampling, tokenizer):
    """The `GenerationConfig` of one call: the checkpoint's own (its repetition penalty, ...) or a
    plain one, with this call's decoding settings."""
    from transformers import GenerationConfig

    if sampling.generation_config:
        config = copy.deepcopy(model.generation_config)
    else:
        config = GenerationConfig(pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=model.generation_config.eos_token_id, top_k=0)
    config.max_new_tokens = sampling.max_new_tokens
    config.do_sample = sampling.temperature > 0
    if config.do_sample:
        config.temperature, config.top_p = sampling.temperature, sampling.top_p
    else:  # greedy: sampling settings cleared (transformers warns about unused ones)
        config.temperature = config.top_p = config.top_k = None
    if sampling.stop_token_ids is not None:
        config.eos_token_id = list(sampling.stop_token_ids)
    if sampling.banned_token_ids:
        config.suppress_tokens = list(sampling.banned_token_ids)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id
    return config


def stop_ids(config) -> set[int]:
    eos = config.eos_token_id
    return set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])


class HFEngine(Engine):
    name = "hf"

    def __init__(self, model, processor, batch_size: int | None = 1):
        self.model, self.processor, self.batch_size = model, processor, batch_size

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def inputs(self, requests: list[Request], padding_side: str):
        # the side is this call's: the tokenizer is shared by concurrent callers of the model
        return self.processor(text=[r.text for r in requests], padding=True, padding_side=padding_side,
                              return_tensors="pt", **merge_media(requests)).to(self.model.device)

    def generate(self, requests: list[Request], sampling: Sampling | list[Sampling]) -> list[Completion]:
        settings = per_request(sampling, len(requests))
        size = self.batch_size or max(len(requests), 1)
        out: list[Completion] = []
        for i in range(0, len(requests), size):
            group = list(range(i, min(i + size, len(requests))))
            if len({settings[k] for k in group}) > 1:  # one config per generate call
                for k in group:
                    out += self._generate([requests[k]], settings[k])
            else:
                out += self._generate([requests[k] for k in group], settings[group[0]])
        return out

    @torch.inference_mode()
    def _generate(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        # batched generation appends after the last column, so every row must end there
        batch = self.inputs(requests, padding_side="left")
        config = generation_config(self.model, sampling, self.tokenizer)
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        config.return_dict_in_generate, config.output_logits = True, sampling.logprobs
        out = self.model.generate(**batch, generation_config=config)
        width = batch["input_ids"].shape[1]
        stops = stop_ids(config)
        completions = []
        for row in range(len(requests)):
            ids = out.sequences[row, width:].tolist()
            end = next((j + 1 for j, t in enumerate(ids) if t in stops), len(ids))
            ids = ids[:end]  # batched rows that stopped early are padded after their end token
            logprobs = None
            if sampling.logprobs:
                logprobs = [float(torch.log_softmax(out.logits[j][row].float(), -1)[t]) for j, t in enumerate(ids)]
            completions.append(Completion(ids, decode(self.tokenizer, ids), logprobs,
                                          prompt_tokens=int(batch["attention_mask"][row].sum())))
        return completions

    @torch.inference_mode()
    def choice_logprobs(self, requests: list[Request], token_ids: list[int]) -> list[list[float]]:
        from mmreward.models.head import last_token_hidden

        batch = self.inputs(requests, padding_side="right")  # each row read at its last real token
        inputs = {k: v for k, v in batch.items() if v is not None}
        hidden = last_token_hidden(self.model.model(**inputs, use_cache=False).last_hidden_state,
                                   batch["attention_mask"])
        rows = self.model.get_output_embeddings().weight[list(token_ids)]
        return torch.log_softmax((hidden @ rows.T).float(), -1).tolist()

    def load_weights(self, model) -> None:
        if model is not self.model:
            self.model.load_state_dict(model.state_dict())
