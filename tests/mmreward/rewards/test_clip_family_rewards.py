"""Each CLIP-family reward on a random-weight checkpoint in its released layout equals its
published formula, computed here from the model's own embeddings (loaded independently)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import mmreward
from mmreward.errors import ConfigError, ModelNotFoundError


def _pooled(output) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _pairs(root, records):
    """(prompt, PIL image) per candidate, in output order."""
    return [(r["prompt"], Image.open(root / c["images"][0]).convert("RGB")) for r in records for c in r["candidates"]]


def _flat(outputs):
    return [x for o in outputs for x in o["rewards"]]


def _hf_cosines(model_dir, processor_dir, texts, images):
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(model_dir).eval()
    proc = CLIPProcessor.from_pretrained(processor_dir)
    with torch.no_grad():
        img = _pooled(model.get_image_features(**proc(images=images, return_tensors="pt")))
        txt = _pooled(model.get_text_features(**proc(text=texts, padding=True, truncation=True, max_length=77,
                                                     return_tensors="pt")))
    return F.cosine_similarity(img, txt, dim=-1), model


@pytest.mark.slow
def test_clipscore_is_w_times_clipped_cosine_with_the_official_prefix(clip_dir, generated):
    root, records = generated
    rm = mmreward.load(f"clipscore@{clip_dir}", device="cpu")
    out = rm.score(records, media_root=root)
    prompts, images = zip(*_pairs(root, records))
    cos, _ = _hf_cosines(clip_dir, clip_dir, [f"A photo depicts {p}" for p in prompts], list(images))
    np.testing.assert_allclose(_flat(out), (2.5 * cos.clamp(min=0)).numpy(), atol=1e-5)
    assert [o["preferred"] for o in out] == [int(np.argmax(o["rewards"])) for o in out]
    assert rm.info["kind"] == "clip" and rm.info["checkpoint"] == str(clip_dir)
    # without the prefix, the bare prompt is scored (and the random model gives other values)
    bare = _flat(mmreward.load("clipscore", clip=str(clip_dir), prefix="", w=1.0, device="cpu").score(records, root))
    cos_bare, _ = _hf_cosines(clip_dir, clip_dir, list(prompts), list(images))
    np.testing.assert_allclose(bare, cos_bare.clamp(min=0).numpy(), atol=1e-5)


def test_clipscore_clips_negative_cosines_to_zero(clip_dir, generated, tmp_path):
    """Negating the text projection negates every cosine: the official max(cos, 0) makes them all 0."""
    from transformers import CLIPModel

    root, records = generated
    model = CLIPModel.from_pretrained(clip_dir)
    with torch.no_grad():
        model.text_projection.weight.neg_()
    model.save_pretrained(tmp_path / "neg")
    for f in clip_dir.iterdir():
        if "token" in f.name or "processor" in f.name or f.name in ("vocab.json", "merges.txt"):
            (tmp_path / "neg" / f.name).write_bytes(f.read_bytes())
    prompts, images = zip(*_pairs(root, records))
    cos, _ = _hf_cosines(tmp_path / "neg", clip_dir, [f"A photo depicts {p}" for p in prompts], list(images))
    assert (cos < 0).all()
    out = mmreward.load(f"clipscore@{tmp_path / 'neg'}", device="cpu").score(records, media_root=root)
    assert _flat(out) == [0.0] * len(prompts)


def test_pickscore_is_logit_scale_times_cosine_with_a_separate_processor(pickscore_dirs, generated):
    model_dir, processor_dir = pickscore_dirs
    root, records = generated
    rm = mmreward.load(f"pickscore@{model_dir}", processor=str(processor_dir), device="cpu")
    out = rm.score(records, media_root=root, batch_size=3)  # batches cut across records
    prompts, images = zip(*_pairs(root, records))
    cos, model = _hf_cosines(model_dir, processor_dir, list(prompts), list(images))
    expected = model.logit_scale.exp().item() * cos
    assert model.logit_scale.exp().item() == pytest.approx(100.0)
    np.testing.assert_allclose(_flat(out), expected.numpy(), atol=1e-5)
    assert rm.info["processor"] == str(processor_dir)


def _hps_reference(ckpt, arch, prompts, images):
    """HPSv2's img_score.py by hand: open_clip model + release state dict, longest side -> 224
    (bicubic), black padding centred, OpenAI normalisation, cosine of the features."""
    import open_clip
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    model = open_clip.create_model(arch.stem, pretrained=None).eval()
    model.load_state_dict(torch.load(ckpt, weights_only=True)["state_dict"])
    batch = []
    for im in images:
        x = TF.to_tensor(im)
        h, w = x.shape[1:]
        s = 224 / max(h, w)
        x = TF.resize(x, [round(h * s), round(w * s)], InterpolationMode.BICUBIC, antialias=True)
        ph, pw = 224 - x.shape[1], 224 - x.shape[2]
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=0.0)
        batch.append(TF.normalize(x, [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]))
    with torch.no_grad():
        out = model(torch.stack(batch), open_clip.get_tokenizer(arch.stem)(list(prompts)))
    if isinstance(out, dict):
        img, txt = out["image_features"], out["text_features"]
    else:
        img, txt = out[0], out[1]
    return (img @ txt.T).diagonal()


@pytest.mark.parametrize("name", ["hpsv2", "hpsv2.1"])
def test_hpsv2_is_the_cosine_of_the_release_checkpoint(name, hps_files, generated):
    ckpt, arch = hps_files
    root, records = generated
    rm = mmreward.load(f"{name}@{ckpt}", arch=str(arch), device="cpu")
    out = rm.score(records, media_root=root)
    prompts, images = zip(*_pairs(root, records))
    np.testing.assert_allclose(_flat(out), _hps_reference(ckpt, arch, prompts, images).numpy(), atol=1e-5)
    assert rm.info["checkpoint"] == str(ckpt) and rm.name == name


def test_hps_preprocessing_pads_black_and_centres():
    from vision.open_clip_embed import resize_longest_and_pad

    x = resize_longest_and_pad(224)(Image.new("RGB", (224, 112), "white"))  # already 224 wide: pad only
    black = (0 - torch.tensor([0.48145466, 0.4578275, 0.40821073])) / torch.tensor([0.26862954, 0.26130258, 0.27577711])
    assert x.shape == (3, 224, 224)
    torch.testing.assert_close(x[:, :56].mean(dim=(1, 2)), black)
    torch.testing.assert_close(x[:, 168:].mean(dim=(1, 2)), black)
    assert (x[:, 56:168] > 1.5).all()  # the white image, between the bands


def test_aesthetic_is_the_mlp_on_the_normalised_image_embedding(clip_dir, aesthetic_head, generated):
    from transformers import CLIPModel, CLIPProcessor

    root, records = generated
    rm = mmreward.load(f"aesthetic@{aesthetic_head}", clip=str(clip_dir), device="cpu")
    out = rm.score(records, media_root=root)
    _, images = zip(*_pairs(root, records))
    model, proc = CLIPModel.from_pretrained(clip_dir).eval(), CLIPProcessor.from_pretrained(clip_dir)
    state = torch.load(aesthetic_head, weights_only=True)
    with torch.no_grad():
        emb = _pooled(model.get_image_features(**proc(images=list(images), return_tensors="pt")))
        x = emb / emb.norm(dim=-1, keepdim=True)
        for k in (0, 2, 4, 6, 7):  # the released Linear layers; the Dropouts (1, 3, 5) are identity at eval
            x = x @ state[f"layers.{k}.weight"].T + state[f"layers.{k}.bias"]
    np.testing.assert_allclose(_flat(out), x.squeeze(-1).numpy(), atol=1e-5)


def test_text_candidates_and_missing_images_are_record_errors(clip_dir, generated):
    root, records = generated
    rm = mmreward.load(f"clipscore@{clip_dir}", device="cpu")
    bad = [{"id": "t", "prompt": "p", "candidates": [{"text": "a caption"}]},
           {"id": "m", "prompt": "p", "candidates": [{"images": ["nope.png"]}]},
           {"id": "two", "prompt": "p", "candidates": [{"images": ["g0.png", "g1.png"]}]}, records[0]]
    out = rm.score(bad, media_root=root)
    assert out[0] == {"id": "t", "error": "candidate 0: clipscore scores one image per candidate, got 0 images"}
    assert "not found under media root" in out[1]["error"]
    assert "got 2 images" in out[2]["error"]
    assert out[3]["id"] == "a" and len(out[3]["rewards"]) == 2


def test_loading_errors_are_one_line_user_errors(tmp_path, hps_files, clip_dir):
    ckpt, arch = hps_files
    with pytest.raises(ModelNotFoundError, match="hpsv2.*HPS_v2_compressed.pt.*xswu/HPSv2"):
        mmreward.load("hpsv2")  # offline: the hub file is not cached
    with pytest.raises(ModelNotFoundError, match="not found"):
        mmreward.load(f"hpsv2@{tmp_path / 'missing.pt'}", arch=str(arch))
    other = tmp_path / "narrower.json"
    other.write_text(arch.read_text().replace('"embed_dim": 32', '"embed_dim": 16'))
    with pytest.raises(ConfigError, match="does not fit open_clip narrower"):
        mmreward.load(f"hpsv2@{ckpt}", arch=str(other))
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        mmreward.load(f"hpsv2@{ckpt}", arch="ViT-Z-99")
    with pytest.raises(ConfigError, match="needs its head file"):
        mmreward.load("aesthetic")
    with pytest.raises(ConfigError, match="PickScore does not take min_pixels; its options: dtype, device"):
        mmreward.load("pickscore", min_pixels=100)
    with pytest.raises(ConfigError, match="mode 'generative' does not apply"):
        mmreward.load(f"clipscore@{clip_dir}", "generative")
    with pytest.raises(ConfigError, match="source given twice"):
        mmreward.load(f"clipscore@{clip_dir}", clip="other")
