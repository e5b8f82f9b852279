"""ImageReward on a tiny checkpoint in the release layout equals BLIP + MLP recomputed here in plain
torch from ImageReward.pt's own tensors (models/BLIP/vit.py and med.py's math, the package's
transform and normalisation); best-of-N ranks are inference_rank's 1-based ranks.
(benchmarks/official_rewards.py runs the image-reward package itself on the same files.)"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import mmreward
from mmreward.errors import ConfigError, ModelNotFoundError
from mmreward.integrations.best_of_n import best_of_n

PROMPTS = ["a man ironing on a taxi", "A LAKE at dawn, café au lait " + "very " * 40 + "long"]
MEAN, STD = 0.16717362830052426, 1.0333394966054072  # ImageReward/ImageReward.py


def _pixels(path) -> torch.Tensor:
    """_transform(224): shorter side to 224 (bicubic) in the file's own mode, centre crop, RGB, CLIP norm."""
    image = Image.open(path)
    w, h = image.size
    size = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    image = image.resize(size, Image.BICUBIC)
    left, top = int(round((size[0] - 224) / 2.0)), int(round((size[1] - 224) / 2.0))
    image = image.crop((left, top, left + 224, top + 224)).convert("RGB")
    x = torch.tensor(np.asarray(image), dtype=torch.float32).permute(2, 0, 1) / 255
    mean, std = torch.tensor([0.48145466, 0.4578275, 0.40821073]), torch.tensor([0.26862954, 0.26130258, 0.27577711])
    return (x - mean[:, None, None]) / std[:, None, None]


def _attention(q, k, v, heads, mask=None):
    b, n, c = q.shape
    split = lambda t: t.reshape(b, t.shape[1], heads, c // heads).transpose(1, 2)  # noqa: E731
    scores = split(q) @ split(k).transpose(-1, -2) / (c // heads) ** 0.5
    if mask is not None:
        scores = scores + mask
    return (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, n, c)


def _vit(s, x, heads):
    p = "blip.visual_encoder."
    patch = s[p + "patch_embed.proj.weight"].shape[-1]
    x = F.conv2d(x, s[p + "patch_embed.proj.weight"], s[p + "patch_embed.proj.bias"], stride=patch)
    x = torch.cat([s[p + "cls_token"].expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)], 1)
    x = x + s[p + "pos_embed"]
    ln = lambda t, n: F.layer_norm(t, t.shape[-1:], s[n + ".weight"], s[n + ".bias"], 1e-6)  # noqa: E731
    blocks = 1 + max(int(k.split(".")[3]) for k in s if k.startswith(p + "blocks."))
    for i in range(blocks):
        b = f"{p}blocks.{i}."
        q, k, v = F.linear(ln(x, b + "norm1"), s[b + "attn.qkv.weight"], s[b + "attn.qkv.bias"]).chunk(3, -1)
        x = x + F.linear(_attention(q, k, v, heads), s[b + "attn.proj.weight"], s[b + "attn.proj.bias"])
        hidden = F.gelu(F.linear(ln(x, b + "norm2"), s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"]))
        x = x + F.linear(hidden, s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"])
    return ln(x, p + "norm")


def _bert(s, cfg, ids, mask, image):
    p = "blip.text_encoder."
    lin = lambda t, n: F.linear(t, s[n + ".weight"], s[n + ".bias"])  # noqa: E731
    ln = lambda t, n: F.layer_norm(t, t.shape[-1:], s[n + ".weight"], s[n + ".bias"], cfg["layer_norm_eps"])  # noqa: E731
    x = s[p + "embeddings.word_embeddings.weight"][ids] + s[p + "embeddings.position_embeddings.weight"][:ids.shape[1]]
    x = ln(x, p + "embeddings.LayerNorm")
    additive = (1.0 - mask[:, None, None, :].float()) * -10000.0  # med.py get_extended_attention_mask
    for i in range(cfg["num_hidden_layers"]):
        for block, keys, block_mask in (("attention", x, additive), ("crossattention", image, None)):
            a = f"{p}encoder.layer.{i}.{block}."
            ctx = _attention(lin(x, a + "self.query"), lin(keys, a + "self.key"), lin(keys, a + "self.value"),
                             cfg["num_attention_heads"], block_mask)
            x = ln(lin(ctx, a + "output.dense") + x, a + "output.LayerNorm")
        o = f"{p}encoder.layer.{i}."
        x = ln(lin(F.gelu(lin(x, o + "intermediate.dense")), o + "output.dense") + x, o + "output.LayerNorm")
    return x


def _expected(model_dir, tokenizer, pairs) -> list[float]:
    state = torch.load(model_dir / "ImageReward.pt", weights_only=True)
    cfg = json.loads((model_dir / "med_config.json").read_text())
    width = state["blip.visual_encoder.cls_token"].shape[-1]
    out = []
    for prompt, path in pairs:
        image = _vit(state, _pixels(path)[None], heads=width // 64)
        t = tokenizer(prompt, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
        cls = _bert(state, cfg, t.input_ids, t.attention_mask, image)[:, 0]
        for layer in (0, 2, 4, 6, 7):
            cls = F.linear(cls, state[f"mlp.layers.{layer}.weight"], state[f"mlp.layers.{layer}.bias"])
        out.append(((cls.item() - MEAN) / STD))
    return out


@pytest.fixture(scope="module")
def imagereward(imagereward_dir):
    return mmreward.load(f"imagereward@{imagereward_dir}", device="cpu")


def test_bert_base_uncased_tokens_and_blips_added_ones(imagereward):
    tok = imagereward.tokenizer
    assert tok("a photo of a cat").input_ids == [101, 1037, 6302, 1997, 1037, 4937, 102]
    assert tok.convert_tokens_to_ids(["[DEC]", "[ENC]"]) == [30522, 30523] and tok.bos_token == "[DEC]"


def test_rewards_equal_the_recomputation_single_and_batched_and_best_of_n_ranks(imagereward, imagereward_dir,
                                                                                generated_images):
    pairs = [(prompt, str(p)) for prompt in PROMPTS for p in generated_images]
    expected = _expected(imagereward_dir, imagereward.tokenizer, pairs)
    assert np.ptp(expected) > 1e-2
    records = [{"id": i, "prompt": p, "candidates": [{"images": [image]}]} for i, (p, image) in enumerate(pairs)]
    for batch_size in (1, len(records)):
        out = imagereward.score(records, media_root="/", batch_size=batch_size)
        np.testing.assert_allclose([o["rewards"][0] for o in out], expected, atol=1e-4)
    n = len(generated_images)
    for g, prompt in enumerate(PROMPTS):
        mine = expected[g * n:(g + 1) * n]
        ranking = best_of_n(imagereward, prompt, [{"images": [str(p)]} for p in generated_images], media_root="/")
        order = sorted(range(n), key=lambda k: -mine[k])
        assert ranking.method == "pointwise" and ranking.order == order
        assert ranking.ranks == [order.index(k) + 1 for k in range(n)]  # inference_rank's 1-based ranks
        np.testing.assert_allclose(ranking.rewards, mine, atol=1e-4)


def test_sources_and_their_errors(imagereward_dir, tmp_path):
    (tmp_path / "ImageReward.pt").symlink_to(imagereward_dir / "ImageReward.pt")
    with pytest.raises(ModelNotFoundError, match="med_config.json not found"):
        mmreward.load(f"imagereward@{tmp_path}")
    (tmp_path / "med_config.json").symlink_to(imagereward_dir / "med_config.json")
    with pytest.raises(ConfigError, match="tokenizer"):  # no vocab beside it, and bert-base-uncased is not cached
        mmreward.load(f"imagereward@{tmp_path / 'ImageReward.pt'}", device="cpu")
    rm = mmreward.load(f"imagereward@{tmp_path / 'ImageReward.pt'}", tokenizer=str(imagereward_dir), device="cpu")
    assert rm.info["checkpoint"] == str(tmp_path / "ImageReward.pt")
    with pytest.raises(ConfigError, match="does not divide"):  # two heads of 64 is the rule; 3 do not divide 128
        mmreward.load(f"imagereward@{imagereward_dir}", vision_heads=3, device="cpu")
