"""The generation-RL, best-of-N, OpenRLHF and TRL adapters in process, on the tiny model."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from mmreward.errors import ConfigError, RecordError
from mmreward.integrations.best_of_n import best_of_n
from mmreward.integrations.imagegen import GenerationReward
from mmreward.integrations.trl import GRPOReward

pytestmark = pytest.mark.slow  # each loads or runs the tiny model (a few seconds on 2 cores)


@pytest.fixture(scope="module")
def batch():
    """Four 56x56 images as uint8 NHWC and their exact NCHW float [0, 1] twin."""
    rng = np.random.default_rng(0)
    nhwc = rng.integers(0, 256, (4, 56, 56, 3), dtype=np.uint8)
    return nhwc, torch.from_numpy(nhwc).permute(0, 3, 1, 2).float() / 255


@pytest.fixture(scope="module")
def generative_rm():
    import mmreward

    return mmreward.load("tiny", "generative", device="cpu")


def test_every_image_batch_layout_gets_the_same_scores(scalar_rm, batch):
    nhwc, nchw = batch
    reward = GenerationReward(scalar_rm)
    prompts = ["a red fox", "a red fox", "a blue car", "a blue car"]
    from_tensor, info = reward(nchw, prompts)
    from_array = reward(nhwc, prompts)[0]
    from_pil = reward([Image.fromarray(a) for a in nhwc], prompts)[0]
    assert from_tensor == pytest.approx(from_array, abs=1e-6) and from_array == pytest.approx(from_pil, abs=1e-6)
    want = [o["rewards"][0] for o in scalar_rm.score(
        [{"prompt": p, "candidates": [{"images": [Image.fromarray(a)]}]} for p, a in zip(prompts, nhwc)])]
    assert from_tensor == pytest.approx(want, abs=1e-6)
    assert info["preferred"] == [0, 0, 0, 0] and info["errors"] == [None] * 4
    assert info["groups"] == [[0], [1], [2], [3]]
    # groups of 2 with one prompt each: scalar candidates are scored alike, and the best is named
    grouped, info = GenerationReward(scalar_rm, group_size=2)(nchw, ["a red fox", "a blue car"])
    assert grouped == pytest.approx(from_tensor, abs=1e-6)
    assert info["preferred"] == [int(np.argmax(from_tensor[:2])), int(np.argmax(from_tensor[2:]))]


def test_generation_groups_of_two_are_judged_pairwise(generative_rm, batch):
    _, nchw = batch
    scores, info = GenerationReward(generative_rm, group_size=2)(nchw, ["a red fox"] * 4)
    assert scores[0] + scores[1] == pytest.approx(1.0) and scores[2] + scores[3] == pytest.approx(1.0)
    out = generative_rm.score([{"prompt": "a red fox", "candidates": [{"images": [nchw[0]]}, {"images": [nchw[1]]}]}])
    assert scores[:2] == pytest.approx(out[0]["rewards"], abs=1e-6)


def test_video_batches_in_both_layouts_agree(scalar_rm):
    rng = np.random.default_rng(1)
    nthwc = rng.integers(0, 256, (2, 6, 56, 56, 3), dtype=np.uint8)
    ntchw = torch.from_numpy(nthwc).permute(0, 1, 4, 2, 3).float() / 255
    reward = GenerationReward(scalar_rm, fps=6)
    a, _ = reward(nthwc, ["a ball rolls", "a ball bounces"])
    b, _ = reward(ntchw, ["a ball rolls", "a ball bounces"], metadata=[{"fps": 6}, {"fps": 6}])
    assert a == pytest.approx(b, abs=1e-6)
    want = scalar_rm.score([{"prompt": "a ball rolls", "fps": 6, "candidates": [{"videos": [nthwc[0]]}]}])
    assert a[0] == pytest.approx(want[0]["rewards"][0], abs=1e-6)


def test_generation_reward_refuses_what_it_cannot_split(scalar_rm, batch):
    _, nchw = batch
    with pytest.raises(ConfigError, match="4-D .* 5-D"):
        GenerationReward(scalar_rm)(nchw[0], ["p"])
    with pytest.raises(ConfigError, match="3 prompts for 4 samples"):
        GenerationReward(scalar_rm)(nchw, ["p"] * 3)
    with pytest.raises(ConfigError, match="2 metadata entries for 4 samples"):
        GenerationReward(scalar_rm)(nchw, ["p"] * 4, [{}, {}])
    # a batch that does not split into groups of 3 is 3 + 1 samples of the one prompt
    scores, info = GenerationReward(scalar_rm, group_size=3)(nchw, ["p"] * 4)
    assert info["groups"] == [[0, 1, 2], [3]] and len(scores) == 4


def test_best_of_n_pointwise_and_pairwise(scalar_rm, generative_rm):
    square = Image.new("RGB", (56, 56), "red")
    answers = ["Red.", "Blue.", "It is red.", "Green."]
    ranking = best_of_n(scalar_rm, "What colour is the square?", answers, images=[square])
    direct = scalar_rm.score([{"prompt": "What colour is the square?", "images": [square],
                               "candidates": [{"text": a} for a in answers]}])[0]["rewards"]
    assert ranking.method == "pointwise" and ranking.rewards == pytest.approx(direct)
    assert ranking.order == sorted(range(4), key=lambda k: -direct[k]) and ranking.best == ranking.order[0]

    pairwise = best_of_n(generative_rm, "What colour is the square?", answers[:3], images=[square])
    assert pairwise.method == "pairwise" and len(pairwise.outputs) == 3  # the three pairs
    for i in range(3):
        for j in range(3):
            if i != j:
                assert pairwise.wins[i][j] + pairwise.wins[j][i] == pytest.approx(1.0)
        assert pairwise.rewards[i] == pytest.approx(sum(w for w in pairwise.wins[i] if w is not None) / 2)
    assert all(len(o["p_yes"]) == 2 for o in pairwise.outputs)  # each pair asked in both orders
    assert pairwise.rewards[pairwise.order[0]] == max(pairwise.rewards)
    assert ranking.preferred == ranking.best  # the random head gives four different rewards


def test_best_of_n_on_equal_rewards_prefers_none(scalar_rm, generative_rm):
    square = Image.new("RGB", (56, 56), "red")
    for model in (scalar_rm, generative_rm):  # pointwise rewards, pairwise win rates (both orders)
        ranking = best_of_n(model, "What colour is the square?", ["Red.", "Red."], images=[square])
        assert ranking.rewards[0] == ranking.rewards[1] and ranking.preferred is None
        assert ranking.best == 0  # the first of the tied, as documented
        assert all(o["preferred"] is None for o in ranking.outputs)


def test_openrlhf_in_process_reward_func(scalar_rm, image_pairs, monkeypatch):
    from mmreward.integrations.openrlhf import make_label, reward_func

    root, records = image_pairs
    monkeypatch.setenv("MMREWARD_MODEL", "tiny")
    monkeypatch.setenv("MMREWARD_MODE", "scalar")
    monkeypatch.setenv("MMREWARD_MEDIA_ROOT", str(root))
    image = records[0]["candidates"][0]["images"][0]
    prompt = "<|im_start|>user\nWhat is drawn?<|im_end|>\n<|im_start|>assistant\n"
    reply = reward_func([prompt + "A star.<|im_end|>"], [prompt], [make_label(images=[image])])
    want = scalar_rm.score([{"prompt": "What is drawn?", "images": [image], "candidates": [{"text": "A star."}]}],
                           media_root=root)[0]["rewards"][0]
    assert reply["rewards"] == pytest.approx([want], abs=1e-6) and reply["scores"] == reply["rewards"]
    label = json.loads(make_label(images=[Image.open(root / image)], prompt="What is drawn?"))
    assert label["images"][0].startswith("data:image/png;base64,")  # in memory -> inline
    with pytest.raises(RecordError, match="query 0: .*image 'nope.png' not found"):
        reward_func([prompt + "x"], [prompt], [make_label(images=["nope.png"])])


def test_trl_reward_handles_errors_as_asked(scalar_rm):
    prompts = [[{"role": "user", "content": [{"type": "text", "text": "q"}]}]] * 2
    completions = [[{"role": "assistant", "content": "a"}]] * 2
    bad_image = [Image.new("RGB", (8, 8)), b"not an image"]
    with pytest.raises(RecordError, match="reward of item 1"):
        GRPOReward(scalar_rm)(prompts, completions, image=bad_image)
    assert GRPOReward(scalar_rm, on_error="none")(prompts, completions, image=bad_image)[1] is None
    assert math.isnan(GRPOReward(scalar_rm, on_error="nan")(prompts, completions, image=bad_image)[1])
    assert GRPOReward(scalar_rm, on_error=-1)(prompts, completions, image=bad_image)[1] == -1.0
