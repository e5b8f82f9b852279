import pytest
import subprocess
import sys

import numpy as np
import torch
from PIL import Image


@pytest.mark.slow
def test_cli_writes_checkpoint_plain_transformers_loads_offline(tmp_path):
    out = tmp_path / "tiny"
    subprocess.run([sys.executable, "-m", "mmreward.cli", "tiny", "--out", str(out)], check=True,
                   capture_output=True)
    code = (
        "import sys, torch\n"
        "from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration\n"
        f"p = AutoProcessor.from_pretrained({str(out)!r})\n"
        f"m = Qwen2_5_VLForConditionalGeneration.from_pretrained({str(out)!r})\n"
        "n = sum(x.numel() for x in m.parameters())\n"
        "print(type(p).__name__, n, p.tokenizer('Hello world').input_ids)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    name, n, ids = res.stdout.split(" ", 2)
    assert name == "Qwen2_5_VLProcessor"
    assert 1_000_000 < int(n) < 20_000_000
    assert ids.strip() == "[9707, 1879]"


@pytest.mark.slow
def test_processor_has_real_qwen25vl_settings(tiny_dir):
    from transformers import AutoProcessor

    p = AutoProcessor.from_pretrained(tiny_dir)
    ip = p.image_processor
    assert (ip.patch_size, ip.merge_size, ip.temporal_patch_size) == (14, 2, 2)
    assert ip.size == {"shortest_edge": 3136, "longest_edge": 12845056}
    assert list(ip.image_mean) == [0.48145466, 0.4578275, 0.40821073]
    text = p.apply_chat_template([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
                                 add_generation_prompt=True, tokenize=False)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                    "<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.slow
def test_forward_on_image_expands_pad_tokens(tiny_dir):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    p = AutoProcessor.from_pretrained(tiny_dir)
    m = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_dir)
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (56, 56, 3), dtype=np.uint8))
    text = p.apply_chat_template([{"role": "user", "content": [{"type": "image"}]}], tokenize=False)
    batch = p(text=[text], images=[img], return_tensors="pt")
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4]]
    assert int((batch["input_ids"] == 151655).sum()) == 4  # 16 patches merged 2x2
    with torch.no_grad():
        logits = m(**batch).logits
    assert logits.shape[-1] == 151936 and torch.isfinite(logits).all()
