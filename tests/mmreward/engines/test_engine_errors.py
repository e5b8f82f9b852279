"""What `--engine vllm` says before any work when it cannot run: no engine installed, a model
it refuses. Runs without vLLM (the refusals come before the engine starts)."""
from __future__ import annotations

import json
import sys

import pytest

from mmreward.errors import ConfigError, MissingExtraError


def test_missing_engine_is_one_line_naming_the_extra(monkeypatch):
    import mmreward
    from mmreward.engines.vllm import VLLMEngine

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(MissingExtraError, match=r"mmreward\[vllm\]") as err:
        VLLMEngine("unused", None)
    assert "\n" not in str(err.value)
    with pytest.raises(MissingExtraError, match=r"pip install 'mmreward\[vllm\]'"):
        mmreward.load("tiny-hd64", "generative", engine="vllm")


def test_unknown_engine_and_scalar_mode_are_refused_before_loading():
    import mmreward

    with pytest.raises(ConfigError, match="engine must be one of hf, vllm, got 'sglang'"):
        mmreward.load("tiny", "generative", engine="sglang")
    with pytest.raises(ConfigError, match="scalar heads run on --engine hf"):
        mmreward.load("tiny", "scalar", engine="vllm")


def test_refused_head_dim_and_architecture_say_so_in_one_line(tmp_path, tiny_dir, monkeypatch):
    from mmreward.engines import vllm as engine

    monkeypatch.setattr(engine, "on_gpu", lambda: False)
    with pytest.raises(ConfigError, match="does not run head_dim 16") as err:
        engine.check_model(str(tiny_dir))
    assert "\n" not in str(err.value) and "tiny-hd64" in str(err.value)
    other = tmp_path / "llava"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"architectures": ["LlavaForConditionalGeneration"],
                                                   "hidden_size": 64, "num_attention_heads": 1}))
    with pytest.raises(ConfigError, match="this checkpoint is LlavaForConditionalGeneration"):
        engine.check_model(str(other))
    from mmreward.models.tiny import tiny_hd64_path

    engine.check_model(str(tiny_hd64_path()))  # the engine tests' model passes


def test_tiny_hd64_is_the_tiny_at_head_dim_64(tiny_dir):
    from mmreward.models.tiny import tiny_hd64_path

    tiny = json.loads((tiny_dir / "config.json").read_text())
    hd64 = json.loads((tiny_hd64_path() / "config.json").read_text())
    text = hd64["text_config"]
    assert (text["hidden_size"], text["num_attention_heads"], text["num_key_value_heads"], text["head_dim"]) == \
        (128, 2, 1, 64)
    assert text["rope_parameters"]["mrope_section"] == [8, 12, 12]
    assert hd64["vision_config"]["out_hidden_size"] == 128
    assert tiny["text_config"]["head_dim"] == 16  # the tiny itself is untouched


def test_training_recipes_take_the_engine_and_refuse_others(tmp_path):
    from mmreward.train.agent.grpo import GRPOConfig
    from mmreward.train.agent.rft import RFTConfig

    assert GRPOConfig(out=str(tmp_path / "g"), engine="vllm").engine == "vllm"
    with pytest.raises(ConfigError, match="engine must be one of hf, vllm"):
        GRPOConfig(out=str(tmp_path / "g"), engine="sglang")
    with pytest.raises(ConfigError, match="engine must be one of hf, vllm"):
        RFTConfig(output_dir=str(tmp_path / "r"), engine="sglang")
