"""The transformers engine on the tiny checkpoint: a batch of prompts of different lengths gives
what each prompt gives alone, and the padding side is each call's own (the tokenizer is shared
by every caller of the model, issue 26 item 13)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

YES, NO = 9693, 2152  # the Qwen2 tokenizer's 'yes' / 'no'


@pytest.fixture(scope="module")
def tiny():
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.qwen_vl import TINY_PIXELS

    model, processor, _ = load_backbone("tiny", BackboneOptions(device="cpu", dtype="float32", **TINY_PIXELS))
    return model, processor


def requests(processor):
    from PIL import Image

    from mmreward.engines import Request

    rng = np.random.default_rng(1)
    out = []
    for i in range(3):  # different image sizes and texts: rows of different lengths
        image = Image.fromarray(rng.integers(0, 255, (56 + 28 * i, 56, 3), dtype=np.uint8))
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe it." + " More." * i}]}]
        out.append(Request(processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
                           {"images": [image]}))
    return out


@pytest.mark.slow
def test_a_batch_equals_each_request_alone_and_never_changes_the_tokenizer(tiny):
    from mmreward.engines import Sampling
    from mmreward.engines.hf import HFEngine

    model, processor = tiny
    tok = processor.tokenizer
    writes = []

    class Watched(type(tok)):
        def __setattr__(self, name, value):
            if name == "padding_side":
                writes.append(value)
            super().__setattr__(name, value)

    reqs = requests(processor)
    batched, alone = HFEngine(model, processor, batch_size=None), HFEngine(model, processor, batch_size=1)
    sampling = Sampling(max_new_tokens=6)
    tok.__class__ = Watched
    try:
        together = batched.generate(reqs, sampling)
        single = alone.generate(reqs, sampling)
        p_together = np.array(batched.choice_logprobs(reqs, [YES, NO]))
        p_single = np.array([alone.choice_logprobs([r], [YES, NO])[0] for r in reqs])
        with ThreadPoolExecutor(3) as pool:  # concurrent calls, each with its own padding side
            threaded = list(pool.map(lambda k: batched.generate(reqs[k:] + reqs[:k], sampling), range(3)))
    finally:
        tok.__class__ = Watched.__bases__[0]
    assert len({c.prompt_tokens for c in single}) == 3  # the rows do differ in length
    assert [c.token_ids for c in together] == [c.token_ids for c in single]
    assert np.abs(p_together - p_single).max() < 1e-5
    for k, got in enumerate(threaded):
        assert [c.token_ids for c in got] == [c.token_ids for c in single[k:] + single[:k]]
    assert writes == [] and tok.padding_side == "right"
