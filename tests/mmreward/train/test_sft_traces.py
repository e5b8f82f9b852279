"""Per-turn training sequences from an agent trace, and cold-start SFT on them (real tokenizer,
real processor, tiny model)."""
from __future__ import annotations

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent_fixtures import CONFIG, TEXTS, scripted, tiny, write_clips  # noqa: E402
from mmreward.agent.frames import FrameStore  # noqa: E402
from mmreward.train.agent.data import IGNORE, TurnCollator, trace_examples  # noqa: E402

IMAGE_PAD = 151655


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    videos = write_clips(folder)
    model, processor = tiny()
    trace = scripted(videos)
    store = FrameStore(videos, CONFIG.candidate_frames, CONFIG.frame_max_pixels, media_root=folder)
    return folder, trace, model, processor, store


@pytest.mark.slow
def test_loss_mask_covers_exactly_the_assistant_tokens(setup):
    _, trace, _, processor, store = setup
    tok = processor.tokenizer
    examples = trace_examples(trace, processor, store, CONFIG.memory_window)
    assert len(examples) == 3
    for ex, text in zip(examples, TEXTS):
        trained = ex.labels != IGNORE
        # the labelled tokens are one contiguous run at the very end: the turn, then <|im_end|>
        n = int(trained.sum())
        assert trained[-n:].all() and not trained[:-n].any()
        assert torch.equal(ex.labels[-n:], ex.input_ids[-n:])
        assert tok.decode(ex.input_ids[-n:]) == text + "<|im_end|>"
        # right before them: the generation prompt, which is not the model's
        assert tok.decode(ex.input_ids[-n - 3:-n]) == "<|im_start|>assistant\n"
        assert not (ex.labels == IMAGE_PAD).any()


def test_images_follow_the_memory_window(setup):
    _, trace, _, processor, store = setup
    examples = trace_examples(trace, processor, store, CONFIG.memory_window)
    tok = processor.tokenizer
    initial = 2 * CONFIG.initial_frames  # 2 videos
    # turn 1: initial frames; turn 2: + frames 3, 5 of both videos; turn 3: frames 3, 5 dropped, + frame 6
    assert [len(e.image_grid_thw) for e in examples] == [initial, initial + 4, initial + 2]
    per_image = int(examples[0].image_grid_thw[0].prod()) // 4
    for e in examples:
        assert int((e.input_ids == IMAGE_PAD).sum()) == per_image * len(e.image_grid_thw)
    last = tok.decode(examples[2].input_ids)
    assert "dropped from memory" in last
    assert "Frame 6 too." in last and "Look closer." in last  # earlier assistant text stays


def test_collator_pads_and_keeps_images_in_order(setup):
    _, trace, _, processor, store = setup
    examples = trace_examples(trace, processor, store, CONFIG.memory_window)
    batch = TurnCollator(processor.tokenizer.pad_token_id)(examples)
    lengths = [len(e.input_ids) for e in examples]
    assert batch["input_ids"].shape == (3, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert int((batch["labels"] != IGNORE).sum()) == sum(int((e.labels != IGNORE).sum()) for e in examples)
    assert torch.equal(batch["pixel_values"], torch.cat([e.pixel_values for e in examples]))
    assert batch["image_grid_thw"].shape[0] == sum(len(e.image_grid_thw) for e in examples)


def test_token_logprobs_match_the_full_causal_lm_loss(setup):
    """The cheap path (project only labelled positions) equals the model's own causal-LM loss."""
    from mmreward.train.agent.logprobs import TokenLogprobs, causal_lm_loss

    _, trace, model, processor, store = setup
    examples = trace_examples(trace, processor, store, CONFIG.memory_window)
    batch = TurnCollator(processor.tokenizer.pad_token_id)(examples)
    with torch.no_grad():
        out = TokenLogprobs(model)(**batch)
        ours = causal_lm_loss(out["logp"], out["mask"])
        ref = model(**batch).loss
    assert torch.allclose(ours, ref, atol=1e-5), (ours, ref)


@pytest.mark.slow
def test_sft_learns_and_resumes(setup, tmp_path):
    from mmreward.train.agent.sft_traces import TraceSFTConfig, train_on_traces

    folder, _, _, processor, _ = setup
    model, processor = tiny()
    traces = [scripted(["clip0.mp4", "clip1.mp4"], id=f"t{i}") for i in range(4)]
    cfg = TraceSFTConfig(output_dir=str(tmp_path / "sft"), max_steps=3, per_device_train_batch_size=4,
                         learning_rate=3e-3, save_steps=2, logging_steps=1, warmup_steps=0.0)
    first = train_on_traces(traces, model, processor, CONFIG, cfg, media_root=folder)
    losses = [h["loss"] for h in json.load(open(tmp_path / "sft" / "checkpoint-3" / "trainer_state.json"))
              ["log_history"] if "loss" in h]
    assert losses[-1] < losses[0]
    assert (tmp_path / "sft" / "model.safetensors").is_file()
    assert (tmp_path / "sft" / "tokenizer_config.json").is_file()
    # resume: a longer run picks up at step 3 instead of starting over
    cfg = TraceSFTConfig(output_dir=cfg.output_dir, max_steps=4, per_device_train_batch_size=4,
                         learning_rate=3e-3, save_steps=2, logging_steps=1, warmup_steps=0.0, resume=True)
    model2, _ = tiny()
    second = train_on_traces(traces, model2, processor, CONFIG, cfg, media_root=folder)
    assert first.global_step == 3 and second.global_step == 4
    state = json.load(open(tmp_path / "sft" / "checkpoint-4" / "trainer_state.json"))
    assert [h["step"] for h in state["log_history"] if "loss" in h] == [1, 2, 3, 4]
    assert state["log_history"][2]["loss"] == losses[2]  # steps 1-3 come from the first run
