"""The judges on the vLLM engine give the HF engine's answers (same checkpoint, tiny-hd64, fp32):
UnifiedReward pair-rank and point-score on images and videos (texts, verdicts, rewards equal),
the yes-token mode pointwise, pairwise both orders and rationale-first (rationales equal; P(yes)
within 1e-4 on images, measured ~1e-6, and 5e-3 on videos, measured up to ~1e-3: the text after
a clip gets other M-RoPE positions in vLLM, as in transformers 4.5x, see test_vllm_engine)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def unifiedreward(hd64, engine):
    import mmreward

    path = str(hd64[2])

    def load(task):  # answers cut at 12 tokens: the official limits (512 / 1024) only cost time here
        hf = mmreward.load(path, preset="unifiedreward", task=task, max_new_tokens=12, device="cpu",
                           dtype="float32")
        return hf, mmreward.load(path, preset="unifiedreward", task=task, max_new_tokens=12, engine=engine)

    return load


@pytest.mark.parametrize("task", ["pair-rank", "point-score"])
@pytest.mark.parametrize("kind", ["images", "videos"])
def test_unifiedreward_answers_as_on_hf(unifiedreward, media, task, kind):
    hf, vl = unifiedreward(task)
    root, images, videos = media
    records = [{k: r[k] for k in ("id", "prompt", "candidates")} for r in (images if kind == "images" else videos)]
    ours = vl.score(records, media_root=root, batch_size=8)
    theirs = hf.score(records, media_root=root, batch_size=8)
    assert vl.info["engine"] == "vllm" and hf.info["engine"] == "hf"
    for a, b in zip(ours, theirs):
        assert "error" not in a, a
        assert a["judge_text"] == b["judge_text"]
        assert a["rewards"] == b["rewards"] and a["verdict_parsed"] == b["verdict_parsed"]
        assert len(a["judge_text"]) == (1 if task == "pair-rank" else 2)


@pytest.fixture(scope="module")
def yes_token(hd64, engine):
    import mmreward

    def load(**options):
        hf = mmreward.load("tiny-hd64", "generative", device="cpu", dtype="float32", **options)
        return hf, mmreward.load("tiny-hd64", "generative", engine=engine, **options)

    return load


@pytest.mark.parametrize("options", [dict(form="pointwise"), dict(form="pairwise", both_orders=False),
                                     dict(form="pairwise", both_orders=True),
                                     dict(form="pairwise", both_orders=True, rationale_tokens=8)],
                         ids=["pointwise", "pairwise", "both-orders", "rationale-first"])
def test_yes_token_p_yes_as_on_hf(yes_token, media, options):
    hf, vl = yes_token(**options)
    root, images, videos = media
    records = [{k: r[k] for k in ("id", "prompt", "candidates")} for r in images + videos]
    ours = vl.score(records, media_root=root, batch_size=4)
    theirs = hf.score(records, media_root=root, batch_size=4)
    gap = {"images": 0.0, "videos": 0.0}
    for r, a, b in zip(records, ours, theirs):
        assert "error" not in a, a
        assert len(a["p_yes"]) == len(b["p_yes"]) == (2 if options.get("both_orders") or
                                                      options["form"] == "pointwise" else 1)
        kind = "videos" if "videos" in r["candidates"][0] else "images"
        gap[kind] = max(gap[kind], float(np.abs(np.subtract(a["p_yes"], b["p_yes"])).max()))
        if options.get("rationale_tokens"):
            assert a["rationales"] == b["rationales"]
    assert gap["images"] < 1e-4 and gap["videos"] < 5e-3, gap
    print(f"\n{options}: max |P(yes) vLLM - HF| = {gap['images']:.1e} (images), {gap['videos']:.1e} (videos)")
