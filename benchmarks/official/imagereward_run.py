"""Score with the official `image-reward` package (run it in a venv that has image-reward 1.5).

    python imagereward_run.py SPEC.json OUT.json

SPEC: {"model_dir": DIR holding ImageReward.pt, med_config.json and bert-base-uncased's vocab.txt,
"vision": {"width", "depth", "patch"}, "text_width": W, "pairs": [[prompt, image], ...],
"groups": [[prompt, [image, ...]], ...]}. The package loads the checkpoint with its own `load`,
tokenizer, transform and head; only the sizes it hard-codes (`vit='large'`, `MLP(768)`) are set to
the tiny checkpoint's, and its `bert-base-uncased` resolves to DIR's copy (no hub here). OUT:
{"single": [score(prompt, image) per pair], "rank": [[ranks, rewards] of inference_rank per group],
"strict": the checkpoint's keys equal the module's}.
"""
import json
import os
import sys
from pathlib import Path

import torch


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    model_dir, vision = Path(spec["model_dir"]), spec["vision"]
    # BertTokenizer.from_pretrained('bert-base-uncased') reads a local directory of that name first
    work = Path(out_path).parent / "imagereward-cwd"
    (work / "bert-base-uncased").mkdir(parents=True, exist_ok=True)
    for name in ("vocab.txt", "tokenizer_config.json"):
        (work / "bert-base-uncased" / name).write_bytes((model_dir / name).read_bytes())
    os.chdir(work)

    import importlib

    import ImageReward as RM
    from ImageReward.models.BLIP import blip_pretrain
    from ImageReward.models.BLIP.vit import VisionTransformer

    def tiny_vit(vit, image_size, use_grad_checkpointing=False, ckpt_layer=0, drop_path_rate=0):
        return VisionTransformer(img_size=image_size, patch_size=vision["patch"], embed_dim=vision["width"],
                                 depth=vision["depth"], num_heads=vision["width"] // 64), vision["width"]

    blip_pretrain.create_vit = tiny_vit
    module = importlib.import_module("ImageReward.ImageReward")  # the package exports a class of that name too
    full_mlp = module.MLP
    module.MLP = lambda input_size: full_mlp(spec["text_width"])

    model = RM.load(str(model_dir / "ImageReward.pt"), device="cpu", med_config=str(model_dir / "med_config.json"))
    state = torch.load(model_dir / "ImageReward.pt", map_location="cpu")
    strict = set(state) == set(model.state_dict())
    with torch.no_grad():
        single = [model.score(prompt, image) for prompt, image in spec["pairs"]]
        rank = [list(model.inference_rank(prompt, images)) for prompt, images in spec["groups"]]
    Path(out_path).write_text(json.dumps({"single": single, "rank": rank, "strict": strict}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
