"""The Qwen-VL scoring engine on the tiny model: token counts, token-budgeted batches, the
out-of-memory split, and which failures are a record's and which are bugs."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mmreward.scoring.batching import TokenBudget, collate, count_tokens, token_batches
from mmreward.scoring.engine import Scorer
from mmreward.scoring.prompts import Prompt


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 500), max_size=40), st.integers(1, 8), st.integers(1, 2000))
def test_token_batches_cover_every_prompt_once_within_the_budget(lengths, rows, budget):
    batches = token_batches(lengths, rows, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert 1 <= len(b) <= rows
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= budget  # a long prompt runs alone


class Device(torch.nn.Module):
    """The tiny reward module behind a stand-in device: out of memory above `max_tokens` padded
    tokens, or an exception on every call; records the batch shapes it ran."""

    def __init__(self, inner, max_tokens=None, error=None):
        super().__init__()
        self.inner, self.backbone = inner, inner.backbone
        self.max_tokens, self.error, self.shapes = max_tokens, error, []

    @property
    def device(self):
        return self.inner.device

    def forward(self, **batch):
        if self.error is not None:
            raise self.error
        if self.max_tokens is not None and batch["input_ids"].numel() > self.max_tokens:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.shapes.append(tuple(batch["input_ids"].shape))
        return self.inner(**batch)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    for i in range(4):
        Image.new("RGB", (56 + 28 * i, 56), (60 * i, 90, 200)).save(root / f"{i}.png")
    Image.new("RGB", (300, 1)).save(root / "thin.png")  # aspect ratio 300: Qwen's processor refuses it
    return root


def _rec(rid, images=("0.png",), prompt="a picture"):
    return {"id": rid, "prompt": prompt, "candidates": [{"images": list(images)}, {"text": "plain words"}]}


def _scorer(rm, **kw):
    budget = TokenBudget(kw.pop("max_batch_tokens", None), kw.pop("max_prompt_tokens", None))
    return Scorer(Device(rm.module, **kw), rm.processor, rm.config, budget)


def test_token_counts_equal_what_the_processor_makes(scalar_rm, media):
    from video.reader import read_uniform_clip
    from video.writer import write_mp4

    write_mp4(media / "v.mp4", np.random.default_rng(0).integers(0, 255, (12, 56, 84, 3), dtype=np.uint8), fps=6)
    clip = read_uniform_clip(media / "v.mp4", 6, max_pixels=64 * 28 * 28)
    images = [Image.open(media / f"{i}.png") for i in range(4)] + [Image.new("RGB", (1000, 30))]
    for imgs, vids in (([], []), (images[:1], []), (images, []), ([], [clip]), (images[:2], [clip, clip])):
        content = [{"type": "image"}] * len(imgs) + [{"type": "video"}] * len(vids) + [{"type": "text", "text": "hi"}]
        prompt = Prompt([{"role": "user", "content": content}], imgs, vids)
        assert count_tokens(scalar_rm.processor, prompt) == collate(scalar_rm.processor, [prompt])["input_ids"].shape[1]


def test_long_and_short_prompts_are_batched_apart_in_input_order(scalar_rm, media):
    records = [_rec("short0"), _rec("long", [f"{i % 4}.png" for i in range(12)]), _rec("short1", ["1.png"]),
               {"id": "text", "prompt": "which?", "candidates": [{"text": "a"}, {"text": "b"}]}]
    scorer = _scorer(scalar_rm, max_batch_tokens=400)
    got = scorer.score_chunk(records, scalar_rm.media_options(media), batch_size=8)
    assert [g["id"] for g in got] == ["short0", "long", "short1", "text"]
    # every forward pass within the budget unless it holds one prompt, and the long ones alone
    assert all(rows * cols <= 400 or rows == 1 for rows, cols in scorer.module.shapes)
    assert scorer.stats["padded_tokens"] < 2 * scorer.stats["tokens"]
    one_by_one = [scalar_rm.score([r], media_root=media, batch_size=1)[0] for r in records]
    for g, ref in zip(got, one_by_one):
        assert g["rewards"] == pytest.approx(ref["rewards"], abs=1e-5)


def test_a_prompt_over_the_cap_is_an_error_line_before_any_forward_pass(scalar_rm, media):
    scorer = _scorer(scalar_rm, max_prompt_tokens=60)
    got = scorer.score_chunk([_rec("ok"), _rec("big", ["0.png"] * 8)], scalar_rm.media_options(media), 8)
    assert "rewards" in got[0]
    assert got[1]["error"].startswith("prompt 0 has ") and "over the --max-prompt-tokens cap of 60 tokens" in got[1]["error"]
    assert sum(rows for rows, _ in scorer.module.shapes) == 2  # only the two prompts of "ok" ran

    context = _scorer(scalar_rm)  # the tiny model's context is 32,768 tokens
    big = {"id": "novel", "prompt": "word " * 40_000, "candidates": [{"text": "x"}]}
    assert "tokens, over the model's context of 32,768 tokens" in context.score_chunk(
        [big], scalar_rm.media_options(media), 8)[0]["error"]
    assert context.module.shapes == []


def test_a_text_over_the_limit_is_refused_from_its_size_without_being_tokenized(scalar_rm, media, monkeypatch):
    import re

    from mmreward.scoring import engine

    tokenized = []
    count = engine.count_tokens
    monkeypatch.setattr(engine, "count_tokens", lambda processor, prompt, text=None: (
        tokenized.append(len(text)), count(processor, prompt, text))[1])
    records = [_rec("ok"),
               _rec("huge", prompt="a red fox " * 3_000_000),  # 30 MB: its size proves it over 100 tokens
               _rec("dashes", prompt="-" * 2_000)]  # not proven (a token may be 128 dashes) but over the cap
    scorer = _scorer(scalar_rm, max_prompt_tokens=100)
    got = scorer.score_chunk(records, scalar_rm.media_options(media), 8)
    assert "rewards" in got[0]
    assert re.fullmatch(r"prompt 0 has 30,000,000 bytes of text, so at least [\d,]+ tokens: over the "
                        r"--max-prompt-tokens cap of 100 tokens \(refused without tokenizing it\)", got[1]["error"])
    assert got[2]["error"] == ("prompt 0 has 2,000 bytes of text, over the cap of 1,600 (16 bytes a token of the "
                               "--max-prompt-tokens cap of 100 tokens; refused without tokenizing it)")
    assert max(tokenized) < 1_000 and len(tokenized) == 2  # only "ok"'s two prompts were tokenized


def test_out_of_memory_splits_the_batch_down_to_the_prompt_that_does_not_fit(scalar_rm, media):
    records = [_rec(f"r{i}", [f"{i % 4}.png"]) for i in range(6)] + [_rec("huge", ["3.png"] * 25)]
    scorer = _scorer(scalar_rm, max_tokens=200)  # the stand-in device holds 200 tokens per pass
    got = scorer.score_chunk(records, scalar_rm.media_options(media), batch_size=16)
    assert got[-1] == {"id": "huge", "error": "prompt 0: out of memory on this prompt alone "
                                              f"({count(scalar_rm, records[-1], media):,} tokens)"}
    reference = scalar_rm.score(records[:-1], media_root=media)
    for g, ref in zip(got, reference):
        assert g["rewards"] == pytest.approx(ref["rewards"], abs=1e-5)


def count(rm, record, media):
    from mmreward.scoring.records import load_item

    plan = rm.scorer.plan(load_item(record, rm.media_options(media)))
    return max(count_tokens(rm.processor, p) for p in plan.prompts)


def test_inputs_the_processor_refuses_cost_only_their_record(scalar_rm, media):
    records = [_rec("ok"), _rec("thin", ["thin.png"]),
               _rec("injected", ["0.png"], prompt="look: <|image_pad|> here"), _rec("ok2", ["1.png"])]
    got = _scorer(scalar_rm).score_chunk(records, scalar_rm.media_options(media), 8)
    assert "rewards" in got[0] and "rewards" in got[3]
    assert "the processor refuses it: absolute aspect ratio must be smaller than 200" in got[1]["error"]
    # refused before any pass on every transformers release (5.9's processor raised an IndexError)
    assert "the processor refuses it: the prompt's text holds 2 <|image_pad|> placeholders" in got[2]["error"]


def test_a_bug_fails_loudly_and_a_model_failing_everything_stops(scalar_rm, media):
    records = [_rec(f"r{i}") for i in range(5)]
    with pytest.raises(KeyError, match="pixel_values"):
        _scorer(scalar_rm, error=KeyError("pixel_values")).score_chunk(records, scalar_rm.media_options(media), 4)
    # a ValueError on every single prompt is the model's fault, not the inputs'
    with pytest.raises(RuntimeError, match="failed on each of the first 8 prompts"):
        _scorer(scalar_rm, error=ValueError("no")).score_chunk(records, scalar_rm.media_options(media), 4)
