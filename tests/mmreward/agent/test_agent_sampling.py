"""Token choice: greedy, seeded sampling, nucleus cut, banned control tokens."""
from __future__ import annotations

import torch

from mmreward.agent.loop import banned_ids
from mmreward.agent.sampling import choose


def test_greedy_and_banned():
    logits = torch.tensor([0.0, 5.0, 3.0, 1.0])
    assert choose(logits, 0.0, 1.0)[0] == 1
    token, lp = choose(logits, 0.0, 1.0, banned=torch.tensor([1]))
    assert token == 2  # the best allowed token; its log-prob is the unmasked model's
    assert abs(lp - float(torch.log_softmax(logits, -1)[2])) < 1e-6
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        assert choose(logits, 1.0, 1.0, g, banned=torch.tensor([1, 2]))[0] in (0, 3)


def test_seeded_sampling_and_top_p():
    logits = torch.tensor([2.0, 1.9, -3.0, -3.0])
    draws = [choose(logits, 1.0, 1.0, torch.Generator().manual_seed(s))[0] for s in range(30)]
    again = [choose(logits, 1.0, 1.0, torch.Generator().manual_seed(s))[0] for s in range(30)]
    assert draws == again and {0, 1} <= set(draws)
    # top_p = 0.5 keeps only the most likely token (its mass alone is >= 0.5)
    assert {choose(logits, 1.0, 0.5, torch.Generator().manual_seed(s))[0] for s in range(30)} == {0}


def test_banned_ids_spare_end_of_turn_and_tool_tokens(tiny):
    tok = tiny[1].tokenizer
    banned = set(banned_ids(tok).tolist())
    for allowed in ("<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>"):
        assert tok.convert_tokens_to_ids(allowed) not in banned
    for denied in ("<|image_pad|>", "<|vision_start|>", "<|im_start|>", "<|video_pad|>"):
        assert tok.convert_tokens_to_ids(denied) in banned


def test_sampling_frequencies_match_the_temperature_scaled_distribution():
    logits = torch.tensor([1.0, 0.0, float("-inf"), -1.0, 0.5])
    g = torch.Generator().manual_seed(0)
    n = 6000
    counts = torch.bincount(torch.tensor([choose(logits, 2.0, 1.0, g)[0] for _ in range(n)]), minlength=5)
    expected = torch.softmax(logits / 2.0, -1) * n
    assert counts[2] == 0  # zero probability is never drawn
    keep = expected > 0
    chi2 = float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())
    assert chi2 < 16.3  # chi-square, 3 degrees of freedom, p = 0.001


def test_nucleus_from_the_top_k_equals_the_full_sort():
    from mmreward.agent.sampling import _nucleus

    def full_sort(probs, top_p):
        vals, order = probs.sort(descending=True)
        kept = vals.masked_fill(vals.cumsum(-1) - vals >= top_p, 0.0)
        out = torch.zeros_like(probs).scatter(-1, order, kept)
        return out / out.sum()

    g = torch.Generator().manual_seed(0)
    peaked = torch.softmax(torch.randn(5000, generator=g) * 6, -1)  # nucleus inside the top 64
    flat = torch.softmax(torch.randn(5000, generator=g) * 0.1, -1)  # nucleus of thousands: full sort
    for probs in (peaked, flat):
        for top_p in (0.5, 0.9, 0.95):
            assert torch.allclose(_nucleus(probs, top_p), full_sort(probs, top_p))
    assert int((_nucleus(flat, 0.9) > 0).sum()) > 64
