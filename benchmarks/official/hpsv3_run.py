"""Score (prompt, image) pairs with the official `hpsv3` package (run it in a venv that has hpsv3 1.0.0).

    python hpsv3_run.py SPEC.json OUT.json

SPEC: {"model_dir": DIR holding a Qwen2-VL base and HPSv3.safetensors, "pairs": [[prompt, image path], ...]}.
The package's own HPSv3_7B.yaml is used with model_name_or_path = DIR and float32 on CPU (its
bf16 cast needs a GPU); everything else (processor, <|Reward|>, head, fetch_image, the template)
is the package's. OUT: {"single": [[mu, sigma] per pair, one call each], "batched": [[mu, sigma], ...]}.
"""
import json
import sys
import tempfile
from pathlib import Path

import hpsv3
import yaml
from hpsv3.inference import HPSv3RewardInferencer


def main(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    config = yaml.safe_load((Path(hpsv3.__file__).parent / "config" / "HPSv3_7B.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        config.update(model_name_or_path=spec["model_dir"], bf16=False, torch_dtype="float32", report_to="none",
                      dataloader_num_workers=0, output_dir=tmp)
        config_path = Path(tmp) / "HPSv3_tiny.yaml"
        config_path.write_text(yaml.safe_dump(config))
        inferencer = HPSv3RewardInferencer(config_path=str(config_path),
                                           checkpoint_path=str(Path(spec["model_dir"]) / "HPSv3.safetensors"),
                                           device="cpu")
        prompts = [p for p, _ in spec["pairs"]]
        images = [i for _, i in spec["pairs"]]
        single = [inferencer.reward([image], [prompt])[0].tolist() for prompt, image in zip(prompts, images)]
        batched = inferencer.reward(images, prompts).tolist()
    Path(out_path).write_text(json.dumps({"single": single, "batched": batched}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
