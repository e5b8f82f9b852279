"""Flip and shift rules per expectation; the cluster bootstrap."""
import numpy as np
import pytest

from mmreward.probe.stats import bootstrap, outcome, preferred, summarise


def test_preferred_treats_near_equal_rewards_as_a_tie():
    assert preferred([0.2, 0.7], tol=0.01) == 1
    assert preferred([0.7, 0.695], tol=0.01) is None
    assert preferred([0.5], tol=0.01) == 0


def test_invariant_flip_follows_the_candidates_through_the_mapping():
    # swap: candidate 0 (preferred) now sits at position 1 and still wins -> no flip
    assert outcome("invariant", [0.9, 0.1], [0.1, 0.9], mapping=[1, 0]) == (False, 0.0)
    # the first position wins whatever it holds -> flip
    flip, shift = outcome("invariant", [0.9, 0.1], [0.9, 0.1], mapping=[1, 0])
    assert flip is True and shift == pytest.approx(0.0)
    flip, shift = outcome("invariant", [0.9, 0.1], [0.5, 0.3], mapping=[0, 1])
    assert flip is False and shift == pytest.approx(((0.5 - 0.9) + (0.3 - 0.1)) / 2)
    assert outcome("invariant", [0.4], [0.6])[0] is None  # one candidate: no preference to flip


def test_tie_hack_and_lower_rules():
    assert outcome("tie", [0, 0], [0.3, 0.3], tol=1e-6) == (False, 0.0)
    assert outcome("tie", [0, 0], [0.4, 0.3], tol=1e-6)[0] is True
    # hack: the loser (target 1) overtakes -> flip; shift = its reward change
    assert outcome("hack", [0.8, 0.2], [0.8, 0.9], target=1) == (True, pytest.approx(0.7))
    assert outcome("hack", [0.8, 0.2], [0.8, 0.5], target=1)[0] is False
    assert outcome("hack", [0.2, 0.8], [0.2, 0.9], target=1)[0] is None  # it was winning already
    assert outcome("hack", [0.5], [0.6], target=0)[0] is True  # pointwise: the reward rose
    assert outcome("lower", [0.5], [0.4], tol=0.01)[0] is False
    assert outcome("lower", [0.5], [0.5], tol=0.01)[0] is True  # did not drop: the prompt is ignored


def test_bootstrap_resamples_records_not_cases():
    rng = np.random.default_rng(0)
    # one record with 10 flipped cases, nine records with one unflipped case each
    values = [1.0] * 10 + [0.0] * 9
    clusters = [0] * 10 + list(range(1, 10))
    mean, (lo, hi) = bootstrap(values, clusters, 2000, rng)
    assert mean == pytest.approx(10 / 19)
    # whole-record resampling: drawing record 0 zero times is likely, so the interval reaches 0
    assert lo == 0.0 and hi > 0.8
    mean, (lo2, hi2) = bootstrap(values, list(range(19)), 2000, np.random.default_rng(0))
    assert hi2 - lo2 < hi - lo  # treating cases as independent would overstate the precision


def test_summarise_counts_and_scales_the_shift():
    out = summarise([True, False, None, True], [0.2, -0.2, 0.4, 0.6], [0, 1, 2, 3], n_boot=200, seed=1, scale=2.0)
    assert (out["n_cases"], out["n_records"], out["n_flip_defined"]) == (4, 4, 3)
    assert out["flip_rate"] == pytest.approx(2 / 3)
    assert out["shift"] == pytest.approx(0.25) and out["shift_in_sd"] == pytest.approx(0.125)
    assert out["flip_ci"][0] <= out["flip_rate"] <= out["flip_ci"][1]
    assert summarise([], [], [], 10, 0)["flip_rate"] is None
