"""Scalar head, yes-token reward, save/load round trip, batching invariance."""
import logging

import pytest
import torch

import mmreward
from mmreward.models.head import last_token_hidden
from yes_token_checks import assert_yes_probability_is_full_softmax


def test_last_token_hidden_left_and_right_padding():
    hidden = torch.arange(2 * 4 * 3, dtype=torch.float).view(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert torch.equal(last_token_hidden(hidden, right), torch.stack([hidden[0, 1], hidden[1, 3]]))
    assert torch.equal(last_token_hidden(hidden, left), torch.stack([hidden[0, 3], hidden[1, 3]]))


def test_batched_scores_equal_one_record_at_a_time(scalar_rm, image_pairs):
    root, records = image_pairs
    batched = scalar_rm.score(records[:10], media_root=root, batch_size=7)
    single = [scalar_rm.score([r], media_root=root, batch_size=1)[0] for r in records[:10]]
    for b, s in zip(batched, single):
        assert b["id"] == s["id"]
        assert b["rewards"] == pytest.approx(s["rewards"], abs=1e-4)
        assert b["preferred"] == max(range(2), key=lambda i: b["rewards"][i])


@pytest.mark.slow
def test_plain_vlm_gets_a_fresh_head_with_a_warning(tiny_dir, caplog):
    with caplog.at_level(logging.WARNING):
        rm = mmreward.load(tiny_dir, "scalar", device="cpu")
    assert "no reward head" in caplog.text
    assert rm.config.mode == "scalar"


@pytest.mark.slow
def test_save_load_round_trip_gives_identical_scores(tmp_path, image_pairs):
    root, records = image_pairs
    rm = mmreward.load("tiny", "scalar", dimensions=["VQ", "TA"], device="cpu")
    with torch.no_grad():  # move the head away from its seeded init so the test means something
        for p in rm.module.heads.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    before = rm.score(records[:6], media_root=root)
    rm.save_pretrained(tmp_path / "ckpt")
    again = mmreward.load(tmp_path / "ckpt", device="cpu")
    after = again.score(records[:6], media_root=root)
    assert again.config.dimensions == ["VQ", "TA"]
    for a, b in zip(before, after):
        assert a["rewards"] == b["rewards"]
        assert a["dimensions"] == b["dimensions"] and set(a["dimensions"]) == {"VQ", "TA"}


@pytest.mark.slow
def test_yes_probability_equals_full_vocabulary_softmax(image_pairs):
    root, records = image_pairs
    assert_yes_probability_is_full_softmax(mmreward.load("tiny", "generative", device="cpu"), records[0], root)


class _PositionBiased(torch.nn.Module):
    """Wraps the yes-token model and adds +3 to the yes logit: it says 'A is better' more often."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    @property
    def device(self):
        return self.inner.device

    def forward(self, **batch):
        logits = self.inner.yes_no_logits(self.inner.answer_hidden(batch))
        return (logits + torch.tensor([3.0, 0.0])).softmax(-1)[:, 0]


@pytest.mark.slow
@pytest.mark.parametrize("both_orders", [False, True])
def test_both_orders_removes_a_planted_position_bias(image_pairs, both_orders):
    root, records = image_pairs
    rm = mmreward.load("tiny", "generative", device="cpu", both_orders=both_orders)
    rm.scorer.module = _PositionBiased(rm.module)
    rec = records[0]
    swapped = dict(rec, id="swapped", candidates=rec["candidates"][::-1])
    ab, ba = rm.score([rec, swapped], media_root=root)
    if both_orders:
        # the verdict no longer depends on which candidate is shown first
        assert ab["rewards"][0] == pytest.approx(ba["rewards"][1], abs=1e-6)
        assert ab["preferred"] != ba["preferred"] or ab["rewards"][0] == pytest.approx(0.5)
    else:
        assert ab["preferred"] == ba["preferred"] == 0  # the bias wins both times
        assert ab["rewards"][0] > 0.9 and ba["rewards"][0] > 0.9
