import pytest

from mmreward.models.ensemble import Ensemble


class _Fixed:
    """A stand-in reward model whose outputs are given (the ensemble only sees `.score`)."""

    def __init__(self, outs):
        self.outs = outs

    def score(self, records, media_root=None, batch_size=8, progress=False):
        assert len(records) == len(self.outs)
        return self.outs


def test_mean_of_rewards_and_dimensions():
    a = _Fixed([{"id": "x", "rewards": [1.0, 3.0], "preferred": 1, "dimensions": {"VQ": [0.0, 2.0]}}])
    b = _Fixed([{"id": "x", "rewards": [2.0, 0.0], "preferred": 0, "dimensions": {"VQ": [2.0, 2.0]}}])
    (out,) = Ensemble([a, b]).score([{}])
    assert out == {"id": "x", "rewards": [1.5, 1.5], "preferred": None, "dimensions": {"VQ": [1.0, 2.0]}}


def test_an_error_in_any_member_is_an_error_line():
    a = _Fixed([{"id": "x", "rewards": [1.0, 3.0], "preferred": 1}, {"id": "y", "rewards": [0.0, 1.0]}])
    b = _Fixed([{"id": "x", "error": "candidate 0: image 'a.png' not found under media root"},
                {"id": "y", "rewards": [1.0, 0.0]}])
    x, y = Ensemble([a, b]).score([{}, {}])
    assert x == {"id": "x", "error": "candidate 0: image 'a.png' not found under media root"}
    assert y["rewards"] == [0.5, 0.5]


def test_normalize_puts_members_on_one_scale(scalar_rm, image_pairs):
    root, records = image_pairs
    big = _Fixed([dict(o, rewards=[100 * r for r in o["rewards"]])
                  for o in scalar_rm.score(records[:6], media_root=root)])
    outs = Ensemble([scalar_rm, big], normalize=True).score(records[:6], media_root=root)
    alone = scalar_rm.score(records[:6], media_root=root)
    # the same ranking scaled by 100 z-scores to the same numbers, so the mean keeps the ranking
    assert [o["preferred"] for o in outs] == [o["preferred"] for o in alone]
    with pytest.raises(ValueError):
        Ensemble([])
