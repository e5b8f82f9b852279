"""A check both the Qwen2.5-VL tests and the other-family tests run on their generative models."""
from __future__ import annotations

import torch

from mmreward.scoring.batching import collate
from mmreward.scoring.media import MediaOptions
from mmreward.scoring.prompts import pairwise_question
from mmreward.scoring.records import load_item


def assert_yes_probability_is_full_softmax(rm, record, root) -> None:
    """P(yes) from the yes/no rows equals the full-vocabulary softmax renormalised over yes/no."""
    item = load_item(record, MediaOptions(media_root=root))
    a, b = item.candidates
    batch = collate(rm.processor, [pairwise_question(item, a, b), pairwise_question(item, b, a)])
    with torch.no_grad():
        p_yes = rm.module(**batch)
        logits = rm.module.backbone(**batch).logits[:, -1]
    yes, no = rm.module.yes_id, rm.module.no_id
    expected = logits[:, [yes, no]].softmax(-1)[:, 0]
    assert torch.allclose(p_yes, expected, atol=1e-5)
