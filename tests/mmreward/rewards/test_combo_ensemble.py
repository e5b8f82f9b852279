"""An ensemble is a combo: the (weighted) mean of its parts, z-scored on request (the former
`mmreward.models.ensemble.Ensemble`)."""
import pytest

import mmreward
from mmreward.errors import ConfigError
from mmreward.rewards.combo import Combo
from mmreward.scoring.base import BaseRewardModel


class _Fixed(BaseRewardModel):
    """A stand-in reward model whose outputs are given (a combo only sees `score_chunk`)."""

    def __init__(self, outs, name="fixed"):
        self.outs, self.name = outs, name

    def score_chunk(self, records, media_root=None, batch_size=8):
        assert len(records) == len(self.outs)
        return [dict(o) for o in self.outs]


def test_mean_of_rewards_and_dimensions_and_a_tie_is_null():
    a = _Fixed([{"id": "x", "rewards": [1.0, 3.0], "preferred": 1, "dimensions": {"VQ": [0.0, 2.0]}}], "a")
    b = _Fixed([{"id": "x", "rewards": [2.0, 0.0], "preferred": 0, "dimensions": {"VQ": [2.0, 2.0]}}], "b")
    (out,) = Combo.of([a, b], reduce="mean").score([{"id": "x"}])
    assert out["rewards"] == [1.5, 1.5] and out["preferred"] is None  # equal rewards: a tie
    assert out["dimensions"] == {"a": [1.0, 3.0], "a/VQ": [0.0, 2.0], "b": [2.0, 0.0], "b/VQ": [2.0, 2.0],
                                 "VQ": [1.0, 2.0]}
    (weighted,) = Combo.of([a, b], weights=[3.0, 1.0], reduce="mean").score([{"id": "x"}])
    assert weighted["rewards"] == [(3 * 1.0 + 2.0) / 4, (3 * 3.0 + 0.0) / 4] and weighted["preferred"] == 1


def test_an_error_in_any_member_is_an_error_line():
    a = _Fixed([{"id": "x", "rewards": [1.0, 3.0]}, {"id": "y", "rewards": [0.0, 1.0]}], "a")
    b = _Fixed([{"id": "x", "error": "candidate 0: image 'a.png' not found under media root"},
                {"id": "y", "rewards": [1.0, 0.0]}], "b")
    x, y = Combo.of([a, b], reduce="mean").score([{"id": "x"}, {"id": "y"}])
    assert x == {"id": "x", "error": "b: candidate 0: image 'a.png' not found under media root"}
    assert y["rewards"] == [0.5, 0.5] and y["preferred"] is None


def test_zscore_puts_members_on_one_scale(scalar_rm, image_pairs):
    root, records = image_pairs
    big = _Fixed([dict(o, rewards=[100 * r for r in o["rewards"]])
                  for o in scalar_rm.score(records[:6], media_root=root)], "big")
    outs = Combo.of([scalar_rm, big], reduce="mean", zscore=True).score(records[:6], media_root=root)
    alone = scalar_rm.score(records[:6], media_root=root)
    # the same ranking scaled by 100 z-scores to the same numbers, so the mean keeps the ranking
    assert [o["preferred"] for o in outs] == [o["preferred"] for o in alone]
    with pytest.raises(ConfigError, match="at least one component"):
        Combo.of([])


@pytest.mark.slow
def test_an_ensemble_of_checkpoints_loads_by_name(tmp_path, image_pairs):
    """`combo:A,B` with reduce=mean: the README's ensemble of two training runs."""
    root, records = image_pairs
    rm = mmreward.load("tiny", "scalar", device="cpu")
    rm.save_pretrained(tmp_path / "run0")
    ens = mmreward.load(f"combo:{tmp_path / 'run0'},tiny", "scalar", reduce="mean", zscore=True, device="cpu")
    assert ens.info["reduce"] == "mean" and ens.info["zscore"] is True
    outs = ens.score(records[:4], media_root=root)
    assert all(len(o["rewards"]) == 2 for o in outs)
    assert set(outs[0]["dimensions"]) == {str(tmp_path / "run0"), "tiny"}
