"""HPSv3 on a tiny checkpoint in the release layout equals the official computation, redone here from
the files with transformers' own forward: the package's text, fetch_image's RGB + bicubic resize to
smart_resize(28, 200704, 200704), positions 0..L-1 in all three M-RoPE sections, the ranknet head on
the <|Reward|> row. (benchmarks/official_rewards.py runs the hpsv3 package itself on the same files.)"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

import mmreward
from mmreward.errors import ConfigError, ModelNotFoundError

pytestmark = pytest.mark.slow

# sha256 of hpsv3 1.0.0's INSTRUCTION.format(text_prompt="a red fox") + prompt_with_special_token
# (hpsv3/dataset/data_collator_qwen.py), taken from the package
TEMPLATE_SHA256 = "eef7d49325ff33baf0654e081ec2ecfd2e75559bd72e1c0fc8a670d4c6e82738"
PROMPTS = ["a man ironing on a taxi", "a lake at dawn with mist", "a red circle and a green square"]


def test_the_text_is_the_packages_template_byte_for_byte():
    from mmreward.rewards.hpsv3 import INSTRUCTION, PROMPT_WITH_SPECIAL_TOKEN

    text = INSTRUCTION.format(text_prompt="a red fox") + PROMPT_WITH_SPECIAL_TOKEN
    assert hashlib.sha256(text.encode()).hexdigest() == TEMPLATE_SHA256


def _release_model(model_dir):
    """The release loaded by hand: the base's Qwen2-VL, embeddings resized for <|Reward|>, HPSv3.safetensors."""
    from safetensors.torch import load_file
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "right"
    processor.tokenizer.add_special_tokens({"additional_special_tokens": ["<|Reward|>"]})
    model = Qwen2VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    model.resize_token_embeddings(len(processor.tokenizer))
    state = load_file(str(model_dir / "HPSv3.safetensors"))
    head = {k[len("rm_head."):]: v for k, v in state.items() if k.startswith("rm_head.")}
    renamed = {("model.language_model." + k[6:] if k.startswith("model.") else "model." + k): v
               for k, v in state.items() if not k.startswith(("rm_head.", "lm_head."))}
    renamed["lm_head.weight"] = state["lm_head.weight"]
    missing, unexpected = model.load_state_dict(renamed, strict=False)
    assert not missing and not unexpected
    return model, processor, head


def _expected(model_dir, pairs) -> np.ndarray:
    from qwen_vl_utils.vision_process import smart_resize

    from mmreward.rewards.hpsv3 import INSTRUCTION, PROMPT_WITH_SPECIAL_TOKEN

    model, processor, head = _release_model(model_dir)
    rows = []
    for prompt, path in pairs:
        image = Image.open(path).convert("RGB")
        h, w = smart_resize(image.height, image.width, factor=28, min_pixels=200704, max_pixels=200704)
        image = image.resize((w, h), Image.BICUBIC)
        messages = [{"role": "user", "content": [{"type": "image"}, {
            "type": "text", "text": INSTRUCTION.format(text_prompt=prompt) + PROMPT_WITH_SPECIAL_TOKEN}]}]
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        batch = processor(text=[text], images=[image], return_tensors="pt")
        length = batch["input_ids"].shape[1]
        positions = torch.arange(length).view(1, 1, -1).expand(3, 1, -1)
        with torch.no_grad():
            hidden = model(**batch, position_ids=positions, output_hidden_states=True).hidden_states[-1][0]
        x = hidden[batch["input_ids"][0] == processor.tokenizer.convert_tokens_to_ids("<|Reward|>")][0]
        x = torch.relu(x @ head["0.weight"].T + head["0.bias"])
        x = torch.relu(x @ head["3.weight"].T + head["3.bias"])
        rows.append((x @ head["5.weight"].T + head["5.bias"]).tolist())
    return np.array(rows)


@pytest.fixture(scope="module")
def hpsv3(hpsv3_dir):
    return mmreward.load(f"hpsv3@{hpsv3_dir}", device="cpu")


def test_mu_and_sigma_equal_the_official_computation_single_and_batched(hpsv3, hpsv3_dir, generated_images):
    pairs = [(PROMPTS[i % len(PROMPTS)], str(p)) for i, p in enumerate(generated_images)]
    expected = _expected(hpsv3_dir, pairs)
    assert np.ptp(expected[:, 0]) > 1e-2  # the images give different rewards: the comparison means something
    records = [{"id": i, "prompt": p, "candidates": [{"images": [image]}]} for i, (p, image) in enumerate(pairs)]
    for batch_size in (1, len(records)):
        out = hpsv3.score(records, media_root="/", batch_size=batch_size)
        mu = [o["dimensions"]["mu"][0] for o in out]
        np.testing.assert_allclose(mu, expected[:, 0], atol=1e-4)
        np.testing.assert_allclose([o["dimensions"]["sigma"][0] for o in out], expected[:, 1], atol=1e-4)
        assert [o["rewards"][0] for o in out] == mu
    assert hpsv3.info["dimensions"] == ["mu", "sigma"] and hpsv3.info["kind"] == "scalar"


def test_a_prompt_holding_the_reward_token_fails_alone(hpsv3, generated_images):
    image = str(generated_images[-1])
    records = [{"id": "ok", "prompt": "a red fox", "candidates": [{"images": [image]}, {"images": [image]}]},
               {"id": "bad", "prompt": "a <|Reward|> fox", "candidates": [{"images": [image]}]}]
    ok, bad = hpsv3.score(records, media_root="/", batch_size=4)
    assert len(ok["rewards"]) == 2 and ok["rewards"][0] == pytest.approx(ok["rewards"][1], abs=1e-6)
    assert bad["id"] == "bad" and "reward token" in bad["error"]


def test_sources_and_their_errors(hpsv3_dir, tmp_path):
    with pytest.raises(ModelNotFoundError, match="holds no HPSv3.safetensors"):
        mmreward.load(f"hpsv3@{tmp_path}")
    with pytest.raises(ModelNotFoundError, match="no such checkpoint"):
        mmreward.load(f"hpsv3@{tmp_path}/nowhere/HPSv3.safetensors")
    alone = tmp_path / "release"
    alone.mkdir()
    (alone / "HPSv3.safetensors").symlink_to(hpsv3_dir / "HPSv3.safetensors")
    with pytest.raises(ConfigError, match="base"):  # no base beside it: the hub base (not cached, or not this one)
        mmreward.load(f"hpsv3@{alone}", device="cpu")
    # the file with its base given: the same model as the directory
    rm = mmreward.load(f"hpsv3@{alone / 'HPSv3.safetensors'}", base=str(hpsv3_dir), device="cpu")
    assert rm.info["base"] == str(hpsv3_dir)
    with pytest.raises(ConfigError, match="HPSv3 does not take criteria; its options: "):
        mmreward.load(f"hpsv3@{hpsv3_dir}", criteria="x")
