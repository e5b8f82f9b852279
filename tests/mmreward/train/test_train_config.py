"""The training stages' command lines, generated from their config dataclasses: every old flag
name, --config files with flags overriding them, --agent-config, the real defaults in --help, the
precision rule (bf16 autocast over fp32 weights), the sharding options (FSDP, hybrid, DeepSpeed) checked
before any loading."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch

from mmreward.cli import find_command, main
from mmreward.commands.parsing import build_parser, parse


def parsed(*argv: str) -> list:
    prog, command, _, _, rest = find_command(["train", *argv])
    return parse(command, rest, prog)


def help_text(*argv: str) -> str:
    prog, command, _, _, _ = find_command(["train", *argv])
    return " ".join(build_parser(command, prog).format_help().split())  # unwrapped


def test_the_supervised_stages_keep_every_flag_name():
    model, data, cfg, _, _ = parsed(
        "bt", "--data", "d.jsonl", "--eval-data", "e.jsonl", "--media-root", "m", "--out", "o", "--lr", "1e-3",
        "--batch-size", "4", "--epochs", "2", "--grad-accum", "3", "--warmup-ratio", "0", "--lr-scheduler",
        "constant_with_warmup", "--resume", "--dimensions", "VQ", "MQ", "--max-steps", "7", "--save-steps", "5",
        "--logging-steps", "2", "--seed", "3", "--weight-decay", "0.1", "--report-to", "none", "--model", "m0",
        "--dtype", "float32", "--min-pixels", "784", "--max-pixels", "50176", "--video-frames", "4")
    assert (model.model, model.dtype, model.min_pixels, model.max_pixels) == ("m0", "float32", 784, 50176)
    assert (data.data, data.eval_data, data.media_root, data.video_frames) == ("d.jsonl", "e.jsonl", "m", 4)
    assert (cfg.output_dir, cfg.learning_rate, cfg.per_device_train_batch_size, cfg.num_train_epochs) == \
        ("o", 1e-3, 4, 2.0)
    assert (cfg.gradient_accumulation_steps, cfg.warmup_steps, cfg.lr_scheduler_type.value) == \
        (3, 0.0, "constant_with_warmup")
    assert (cfg.resume, cfg.dimensions, cfg.max_steps, cfg.save_steps, cfg.logging_steps, cfg.seed) == \
        (True, ["VQ", "MQ"], 7, 5, 2, 3)
    _, _, _, yes, _, _ = parsed("sft", "--objective", "yes-token", "--data", "d", "--out", "o", "--form", "pointwise",
                          "--answer-loss", "vocab")
    assert (yes.form, yes.answer_loss, yes.learning_rate) == ("pointwise", "vocab", 2e-4)


def test_the_agent_stages_keep_every_flag_name(tmp_path):
    agent_flags = ["--initial-frames", "2", "--candidate-frames", "8", "--max-turns", "2",
                   "--max-frames-per-call", "2", "--memory-window", "0", "--max-new-tokens", "16",
                   "--frame-max-pixels", "3136"]
    _, _, data, agent, cfg, _, _ = parsed("sft", "--objective", "traces", "--traces", "t.jsonl", "--out", "o",
                                    "--epochs", "1", "--batch-size", "2", "--lr", "1e-2", *agent_flags)
    assert (data.traces, cfg.num_train_epochs, cfg.per_device_train_batch_size, cfg.learning_rate) == \
        ("t.jsonl", 1.0, 2, 1e-2)
    expected = {"initial_frames": 2, "candidate_frames": 8, "max_turns": 2, "max_frames_per_call": 2,
                "memory_window": 0, "max_new_tokens": 16, "frame_max_pixels": 3136}
    assert {k: v for k, v in agent.to_config().to_dict().items() if k in expected} == expected
    _, items, _, rft, _, _ = parsed("rft", "--items", "i.jsonl", "--out", "o", "--k", "2", "--temperature", "0.7",
                              "--top-p", "0.9", "--max-steps", "1", "--resume")
    assert (items.items, rft.k, rft.temperature, rft.top_p, rft.max_steps, rft.resume) == \
        ("i.jsonl", 2, 0.7, 0.9, 1, True)
    assert (rft.learning_rate, rft.num_train_epochs) == (1e-5, 2.0)  # RFT's own defaults
    _, _, _, grpo, _, _ = parsed("grpo", "--items", "i", "--out", "o", "--ref-model", "r", "--steps", "3",
                           "--items-per-step", "2", "--group-size", "4", "--ppo-epochs", "2", "--micro-batch", "3",
                           "--lr", "5e-4", "--weight-decay", "0.1", "--max-grad-norm", "0.5", "--clip-eps", "0.1",
                           "--beta", "0", "--alpha", "0.3", "--temperature", "0.7", "--top-p", "0.95",
                           "--save-steps", "2", "--seed", "4", "--resume")
    assert (grpo.ref_model, grpo.steps, grpo.items_per_step, grpo.group_size, grpo.ppo_epochs, grpo.micro_batch,
            grpo.lr, grpo.weight_decay, grpo.max_grad_norm, grpo.clip_eps, grpo.beta, grpo.alpha,
            grpo.temperature, grpo.top_p, grpo.save_steps, grpo.seed, grpo.resume) == \
        ("r", 3, 2, 4, 2, 3, 5e-4, 0.1, 0.5, 0.1, 0.0, 0.3, 0.7, 0.95, 2, 4, True)


def test_agent_config_file_then_the_flags_given(tmp_path):
    file = tmp_path / "agent_config.json"
    file.write_text(json.dumps({"max_turns": 5, "memory_window": 2}))
    # --max-turns 3 is the dataclass default, and given: it still wins over the file
    _, _, agent, _, _, _ = parsed("grpo", "--items", "i", "--out", "o", "--agent-config", str(file), "--max-turns", "3")
    config = agent.to_config()
    # candidate_frames given nowhere: the default protocol's (vr-thinker: 48 a video)
    assert (config.max_turns, config.memory_window, config.candidate_frames) == (3, 2, 48)


def test_help_shows_each_stage_its_own_defaults():
    traces = help_text("sft", "--objective", "traces")
    assert "--learning-rate LEARNING_RATE, --lr LEARNING_RATE peak learning rate (default: 0.0001)" in traces
    assert "--candidate-frames CANDIDATE_FRAMES frames per video the tool can select" in traces
    assert "(default: the protocol's: 48, 128, 32)" in traces and "(default: TA VQ MQ)" in traces
    assert "--traces TRACES" in traces and "--objective {yes-token,traces}" in traces
    assert "peak learning rate (default: 0.0002)" in help_text("bt")
    grpo = help_text("grpo")
    assert "--lr LR learning rate (AdamW) (default: 1e-05)" in grpo and "--group-size GROUP_SIZE" in grpo


def test_the_precision_rule(monkeypatch):
    from mmreward.train.reward.bt import BTConfig
    from mmreward.train.common import default_bf16
    from mmreward.train.agent.grpo import GRPOConfig

    # this machine: no GPU, so fp32 throughout and CPU processes
    assert not default_bf16()
    cfg = BTConfig(output_dir="o")
    assert (cfg.bf16, cfg.use_cpu, GRPOConfig(out="o").bf16) == (False, True, False)
    assert BTConfig(output_dir="o", bf16=True).bf16 and GRPOConfig(out="o", bf16=True).bf16
    # a GPU with bf16: autocast is the default for every stage
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert default_bf16() and GRPOConfig(out="o").bf16 and not GRPOConfig(out="o", bf16=False).bf16


def checkpointing(cfg) -> bool:
    # transformers 5.9 names it gradient_checkpointing (--activation-checkpointing is our alias there)
    return bool(getattr(cfg, "activation_checkpointing", None) or cfg.gradient_checkpointing)


def test_sharding_and_lora_options_of_every_stage():
    for stage in (["bt", "--data", "d"], ["sft", "--objective", "yes-token", "--data", "d"],
                  ["sft", "--objective", "traces", "--traces", "t"], ["rft", "--items", "i"], ["grpo", "--items", "i"]):
        *_, cfg, lora, plan = parsed(*stage, "--out", "o", "--fsdp", "--lora-r", "8", "--activation-checkpointing")
        assert cfg.fsdp and checkpointing(cfg) and lora.enabled and lora.vision_frozen, stage
        assert not plan.plan
        assert (lora.lora_r, lora.lora_alpha or 2 * lora.lora_r, lora.lora_save) == (8, 16, "merged")
    *_, cfg, lora, _ = parsed("bt", "--data", "d", "--out", "o", "--fsdp")
    assert cfg.fsdp_config["state_dict_type"] == "SHARDED_STATE_DICT" and cfg.parallelism_config is None
    assert not lora.enabled and not lora.vision_frozen  # full fine-tuning trains the vision tower too


def test_sharding_mistakes_are_one_line_errors_before_anything_loads(tmp_path, capsys, monkeypatch):
    never = str(tmp_path / "never-loaded")
    out = str(tmp_path / "o")
    ds = tmp_path / "zero3.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    cases = [(["bt", "--data", "d", "--fsdp-shard-size", "2"], "applies to FSDP: add --fsdp"),
             (["bt", "--data", "d", "--deepspeed", "ds.json"], "--deepspeed ds.json: no such file"),
             (["grpo", "--items", "i", "--fsdp", "--deepspeed", "ds.json"], "--fsdp or --deepspeed, not both"),
             (["grpo", "--items", "i", "--fsdp", "--engine", "vllm"], "the engine takes whole weights"),
             (["bt", "--data", "d", "--lora-r", "-1"], "--lora-r must be 0 (off) or a positive rank")]
    for args, message in cases:
        assert main(["train", *args, "--out", out, "--model", never]) == 2, args
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert main(["train", "grpo", "--items", "i", "--deepspeed", str(ds), "--out", out, "--model", never]) == 2
    assert "ZeRO-3: its rollouts need whole weights" in capsys.readouterr().err
    if importlib.util.find_spec("deepspeed") is not None:  # DeepSpeed finds its processes through a launcher
        assert main(["train", "bt", "--data", "d", "--deepspeed", str(ds), "--out", out, "--model", never]) == 2
        err = capsys.readouterr().err
        assert "--deepspeed runs under a launcher" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setitem(sys.modules, "deepspeed", None)  # where it is not installed: `import deepspeed` fails
    assert main(["train", "bt", "--data", "d", "--deepspeed", str(ds), "--out", out, "--model", never]) == 2
    err = capsys.readouterr().err
    assert "DeepSpeed is not installed" in err and len(err.strip().splitlines()) == 1, err


@pytest.fixture
def fresh_accelerate():
    """accelerate keeps one mixed-precision setting per process: start and leave a clean state."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    from agent_fixtures import write_clips, write_items

    folder = tmp_path_factory.mktemp("config_items")
    write_clips(str(folder))
    return write_items(str(folder), 2)


@pytest.mark.slow
def test_grpo_takes_the_config_file_and_a_flag_override(items, tmp_path, fresh_accelerate):
    out = tmp_path / "grpo"
    config = tmp_path / "cfg.yaml"
    config.write_text(f"items: {items}\nout: {out}\nsteps: 1\nitems-per-step: 1\ngroup_size: 2\nlr: 1.0e-3\n"
                      "beta: 0\nsave_steps: 0\nmax_turns: 1\nmax_new_tokens: 4\ninitial_frames: 2\n"
                      "candidate_frames: 8\nmax_frames_per_call: 2\nframe_max_pixels: 3136\n")
    assert main(["train", "grpo", "--config", str(config), "--lr", "1e-4"]) == 0
    ran = json.loads((out / "grpo_config.json").read_text())
    assert (ran["lr"], ran["steps"], ran["group_size"], ran["beta"]) == (1e-4, 1, 2, 0.0)
    assert [json.loads(x)["step"] for x in (out / "grpo_log.jsonl").read_text().splitlines()] == [1]


@pytest.mark.slow
def test_grpo_under_bf16_autocast_keeps_fp32_master_weights(tmp_path, fresh_accelerate):
    """The GPU default, checked on CPU (accelerate autocasts there too): the forward computes in
    bf16, the weights and the optimizer step stay fp32."""
    from agent_fixtures import CONFIG, LABELS, tiny, write_clips
    from mmreward.train.agent.grpo import GRPOConfig, train_grpo
    from one_step_runs import planted_reward

    videos = write_clips(tmp_path)
    agent_cfg = CONFIG.__class__.from_dict({**CONFIG.to_dict(), "max_new_tokens": 4, "max_turns": 1})
    policy, processor = tiny()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    seen = set()
    hook = policy.lm_head.register_forward_hook(lambda module, args, out: seen.add(out.dtype))
    cfg = GRPOConfig(out=str(tmp_path / "grpo"), steps=1, items_per_step=1, group_size=2, lr=1e-3, beta=0.0,
                     save_steps=0, bf16=True)
    policy.train()
    train_grpo(policy, processor, None, [{"id": "a", "prompt": "p", "videos": videos, "labels": LABELS}],
               agent_cfg, cfg, media_root=str(tmp_path), reward_fn=planted_reward)
    hook.remove()
    assert seen == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in policy.parameters())
    moved = max(float((v - before[k]).abs().max()) for k, v in policy.state_dict().items())
    assert moved > 5e-4  # Adam's first step is about lr per weight


def test_help_leads_with_the_stage_and_a_usage_error_is_two_lines(capsys):
    with pytest.raises(SystemExit):
        main(["train", "bt", "--help"])
    short = capsys.readouterr().out
    groups = [line for line in short.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert groups[:4] == ["options:", "model:", "data:", "training:"] and "lora:" in groups
    body = short[short.index("\nmodel:"):]
    assert body.index("--model") < body.index("--data") < body.index("--media-root") < body.index("--out")
    assert "--adam-beta1" not in short and "--help-all" in short and len(short.splitlines()) < 250
    with pytest.raises(SystemExit):
        main(["train", "bt", "--help-all"])
    full = capsys.readouterr().out
    assert "--adam-beta1" in full
    last = [line for line in full.splitlines() if line and not line.startswith(" ") and line.endswith(":")][-1]
    assert last == "all other options of transformers.TrainingArguments:"
    assert full.index(last) < full.index("--adam-beta1")
    for stage in (["bt"], ["sft", "--objective", "traces"], ["grpo"]):
        with pytest.raises(SystemExit) as exit_code:
            main(["train", *stage])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_code.value.code == 2 and len(err) == 2, err
        assert err[0].startswith(f"usage: mmreward train {stage[0]} --") and "required" in err[1]


def test_hybrid_sharding_groups_the_processes(monkeypatch):
    from mmreward.train.common import hybrid_sharding

    monkeypatch.setenv("WORLD_SIZE", "16")
    with pytest.raises(ValueError, match="hybrid sharding runs on GPU processes only"):
        hybrid_sharding(8)  # this machine: CPU processes (accelerate builds the mesh for GPUs only)
    monkeypatch.setattr("mmreward.train.common.cpu_only", lambda: False)
    config = hybrid_sharding(8)
    assert (config.dp_shard_size, config.dp_replicate_size) == (8, 2)
    with pytest.raises(ValueError, match="--fsdp-shard-size 6 must divide the number of processes \\(16\\)"):
        hybrid_sharding(6)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert hybrid_sharding(8) is None  # one process: nothing to shard, a --plan may still name a size
