"""The vLLM engine against the transformers one on the same checkpoint (tiny-hd64, fp32):
greedy token ids and texts equal, P(yes) within 1e-3, per-token log-probs within 1e-5 with
images (measured ~1e-6) and 5e-3 after a video (measured ~1e-3): vLLM starts the text after a
clip at 1 + its largest temporal / height / width position, as transformers 4.5x did (what the
released checkpoints were trained and evaluated with), transformers 5 after its height / width
extent only (see `mmreward.presets.qwen_media`); the two agree while a clip's temporal positions
stay within its spatial extent. And the weights handed over by `load_weights`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

YES, NO = 9693, 2152  # the Qwen2 tokenizer's 'yes' / 'no'


def requests(processor):
    from PIL import Image

    from mmreward.engines import Request

    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        image = Image.fromarray(rng.integers(0, 255, (56 + 28 * i, 84, 3), dtype=np.uint8))
        msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"Describe image {i}."}]}]
        out.append(Request(processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
                           {"images": [image]}))
    video = torch.from_numpy(rng.integers(0, 255, (4, 56, 84, 3), dtype=np.uint8)).permute(0, 3, 1, 2)
    meta = {"fps": 2.0, "frames_indices": [0, 1, 2, 3], "total_num_frames": 4}
    msgs = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe the video."}]}]
    out.append(Request(processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True),
                       {"videos": [video], "video_metadata": [meta], "do_sample_frames": False}))
    return out


def test_greedy_generation_and_choice_logprobs_match_hf(hd64, engine):
    from mmreward.engines import Sampling
    from mmreward.engines.hf import HFEngine

    model, processor, _ = hd64
    reqs = requests(processor)
    hf = HFEngine(model, processor, batch_size=1)
    sampling = Sampling(max_new_tokens=10, logprobs=True)
    for r, a, b in zip(reqs, hf.generate(reqs, sampling), engine.generate(reqs, sampling)):
        assert a.token_ids == b.token_ids and a.text == b.text
        assert a.prompt_tokens == b.prompt_tokens  # the same visual token counts
        assert np.abs(np.subtract(a.logprobs, b.logprobs)).max() < (5e-3 if "videos" in r.media else 1e-5)
    p_hf = np.exp(hf.choice_logprobs(reqs, [YES, NO]))
    p_vllm = np.exp(engine.choice_logprobs(reqs, [YES, NO]))
    assert np.allclose(p_hf.sum(-1), 1) and np.allclose(p_vllm.sum(-1), 1)
    assert np.abs(p_hf - p_vllm).max() < 1e-3
    assert np.ptp(p_hf[:, 0]) > 1e-4  # the images change the answer: the pixels reach both models


def test_sampling_is_seeded_per_request_and_bans_tokens(hd64, engine):
    from mmreward.engines import Sampling

    reqs = requests(hd64[1])[:2]
    banned = tuple(range(151643, 151665))  # every added special token
    s = [Sampling(max_new_tokens=8, temperature=1.0, seed=7, banned_token_ids=banned, generation_config=False)] * 2
    a, b = engine.generate(reqs, s), engine.generate(reqs, s)
    assert [c.token_ids for c in a] == [c.token_ids for c in b]
    other = engine.generate(reqs, [Sampling(max_new_tokens=8, temperature=1.0, seed=8, generation_config=False)] * 2)
    assert [c.token_ids for c in other] != [c.token_ids for c in a]
    assert not {t for c in a for t in c.token_ids} & set(banned)


def test_load_weights_hands_the_model_over(hd64, engine):
    from mmreward.engines import Sampling
    from mmreward.engines.hf import HFEngine
    import copy

    model, processor, _ = hd64
    reqs = requests(processor)[:2]
    sampling = Sampling(max_new_tokens=6)
    before = [c.token_ids for c in engine.generate(reqs, sampling)]
    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # far enough from the checkpoint to write other tokens
        for p in other.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.05)
    try:
        engine.load_weights(other)
        after = engine.generate(reqs, sampling)
        assert [c.token_ids for c in after] == [c.token_ids for c in HFEngine(other.eval(), processor).generate(reqs, sampling)]
        assert [c.token_ids for c in after] != before
    finally:
        engine.load_weights(model)  # the other tests' weights
    assert [c.token_ids for c in engine.generate(reqs, sampling)] == before


def test_an_adapter_directory_runs_merged_into_its_base(hd64, engine, tmp_path):
    """A LoRA adapter directory (`--lora-save adapters`) starts the engine on its base and merges
    the adapters in: the engine then answers as the HF model `mmreward.load` merges."""
    import copy

    from mmreward.engines import Sampling
    from mmreward.engines.hf import HFEngine
    from mmreward.engines.vllm import checkpoint_and_adapters
    from mmreward.models.adapters import save_backbone
    from mmreward.models.backbone import BackboneOptions, load_backbone
    from mmreward.train.lora import LoraOptions, prepare

    model, processor, path = hd64
    adapted = prepare(copy.deepcopy(model), LoraOptions(lora_r=4, lora_dropout=0.0))
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():  # lora_B starts at zero: move it so that the adapters change the answers
        for name, p in adapted.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    save_backbone(adapted, tmp_path)
    processor.save_pretrained(tmp_path)
    assert checkpoint_and_adapters(tmp_path) == (str(path), str(tmp_path))
    assert checkpoint_and_adapters(path) == (str(path), None)

    reqs = requests(processor)[:3]
    sampling = Sampling(max_new_tokens=6)
    before = [c.token_ids for c in engine.generate(reqs, sampling)]
    merged = load_backbone(tmp_path, BackboneOptions(device="cpu", dtype="float32"))[0]
    hf = HFEngine(merged, processor)
    try:
        engine.load_adapters(str(tmp_path))
        after = engine.generate(reqs, sampling)
        assert [c.token_ids for c in after] == [c.token_ids for c in hf.generate(reqs, sampling)]
        assert [c.token_ids for c in after] != before
        gap = np.abs(np.exp(engine.choice_logprobs(reqs, [YES, NO])) - np.exp(hf.choice_logprobs(reqs, [YES, NO])))
        assert gap.max() < 1e-3, gap
    finally:
        engine.load_weights(model)  # the other tests' weights
    assert [c.token_ids for c in engine.generate(reqs, sampling)] == before
