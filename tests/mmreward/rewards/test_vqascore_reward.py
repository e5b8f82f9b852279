"""VQAScore on the tiny Qwen2.5-VL equals P("Yes") read here from the model's own logits for the
standard question (t2v_metrics): one user turn with the image, then the question; softmax over the
whole vocabulary at the last prompt token, at the first token of "Yes"."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import mmreward
from mmreward.errors import ConfigError
from vision.images import load_image

QUESTION = 'Does this figure show "{}"? Please answer yes or no.'  # t2v_metrics default_question_template
PROMPTS = ["a man ironing on a taxi", "a red circle and a green square"]


def _p_yes(checkpoint, pairs, question=QUESTION, answer="Yes") -> list[float]:
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(checkpoint).eval()
    processor = AutoProcessor.from_pretrained(checkpoint)
    answer_id = processor.tokenizer.encode(answer)[0]
    out = []
    for prompt, path in pairs:
        image = load_image(path)  # the suite's decoding (EXIF, alpha on white), as every reward model's
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question.format(prompt)}]}]
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        with torch.no_grad():
            logits = model(**processor(text=[text], images=[image], return_tensors="pt")).logits[0, -1]
        out.append(logits.float().softmax(-1)[answer_id].item())
    return out


def _records(pairs):
    return [{"id": i, "prompt": p, "candidates": [{"images": [str(image)]}]} for i, (p, image) in enumerate(pairs)]


@pytest.mark.slow
def test_p_yes_equals_the_models_own_logits_single_and_batched(tiny_dir, generated_images):
    """The random tiny model gives P("Yes") near 1e-5, differing by tens of percent between images:
    compared relatively (1e-4) as well as within the 1e-5 absolute."""
    pairs = [(PROMPTS[i % 2], p) for i, p in enumerate(generated_images[:4])]
    expected = _p_yes(tiny_dir, pairs)
    assert max(expected) / min(expected) > 1.05
    rm = mmreward.load(f"vqascore@{tiny_dir}", device="cpu")  # its processor's pixel bounds (not `tiny`'s small ones)
    for batch_size in (1, len(pairs)):
        out = rm.score(_records(pairs), media_root="/", batch_size=batch_size)
        np.testing.assert_allclose([o["rewards"][0] for o in out], expected, rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose([o["rewards"][0] for o in out], expected, atol=1e-5)
        assert [o["p_yes"] for o in out] == [o["rewards"] for o in out]
    assert rm.info["kind"] == "vqascore" and rm.info["question_template"] == QUESTION


def test_another_question_and_answer(tiny_dir, generated_images):
    pairs = [(PROMPTS[0], generated_images[-1])]
    other = mmreward.load(f"vqascore@{tiny_dir}", device="cpu", question_template='Does this image show "{}"?', answer="No")
    np.testing.assert_allclose(other.score(_records(pairs), media_root="/")[0]["rewards"],
                               _p_yes(tiny_dir, pairs, 'Does this image show "{}"?', "No"), rtol=1e-4)


def test_every_candidate_is_asked_on_its_own_and_needs_an_image(generated_images):
    rm = mmreward.load("vqascore@tiny", device="cpu")
    a, b = str(generated_images[0]), str(generated_images[-1])
    pair, alone, text = rm.score([
        {"id": "pair", "prompt": "p", "candidates": [{"images": [a]}, {"images": [b]}]},
        {"id": "alone", "prompt": "p", "candidates": [{"images": [b]}]},
        {"id": "text", "prompt": "p", "candidates": [{"text": "a fox"}]}], media_root="/")
    assert pair["rewards"][1] == pytest.approx(alone["rewards"][0], rel=1e-5)  # not a pairwise judgement
    assert "image or a video" in text["error"]


def test_options_that_would_change_the_question_are_refused():
    with pytest.raises(ConfigError, match="criteria"):
        mmreward.load("vqascore@tiny", criteria="x")
    with pytest.raises(ConfigError, match="scalar"):
        mmreward.load("vqascore@tiny", mode="scalar")
    with pytest.raises(ConfigError, match="question_template"):
        mmreward.load("vqascore@tiny", question_template="Is this {subject}?")
