"""Every model family through the registry: a name reaches its family, every option of every
family is typed, listed and settable from `mmreward score` and `--config`, and an unknown or
mistyped option is refused at load with the same one-line message, before anything loads."""
from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import pytest

import mmreward
from mmreward.cli import main
from mmreward.commands import score
from mmreward.commands.common import load_kwargs
from mmreward.commands.parsing import build_parser, parse
from mmreward.errors import ConfigError
from mmreward.families import _plain, expand, type_name
from mmreward.registry import families, resolve

FAMILIES = [f.name for f in families()]
SAMPLES = {"int": ("3", 3), "float": ("0.5", 0.5), "bool": ("false", False), "str": ("x", "x"),
           "list[str]": ("a,b", ["a", "b"])}


@pytest.fixture(scope="module")
def names(tmp_path_factory) -> dict[str, tuple[str, str | None]]:
    """family -> (a model name it loads, the --preset it needs), built from its spec (released
    directories: their files' layout, no weights)."""
    from safetensors.numpy import save_file

    root = tmp_path_factory.mktemp("layouts")
    (root / "videoreward" / "checkpoint-1").mkdir(parents=True)
    (root / "videoreward" / "model_config.json").write_text("{}")
    (root / "videoreward" / "checkpoint-1" / "model.pth").write_bytes(b"")
    (root / "skywork-vl-reward").mkdir()
    (root / "skywork-vl-reward" / "config.json").write_text("{}")
    save_file({"v_head.summary.weight": np.zeros((1, 4), np.float32), "v_head.summary.bias": np.zeros(1, np.float32)},
              str(root / "skywork-vl-reward" / "value_head.safetensors"))
    out = {}
    for fam in families():
        if fam.names:
            out[fam.name] = (fam.names[0], None)
        elif fam.prefixes:
            out[fam.name] = (fam.prefixes[0] + ("pickscore=1" if fam.forwards_options else "127.0.0.1:9"), None)
        elif fam.hub_ids:
            out[fam.name] = (expand(next(iter(fam.hub_ids)))[0], None)
        elif fam.presets:
            out[fam.name] = ("tiny", fam.presets[0])
        elif fam.default:
            out[fam.name] = ("tiny", None)
        else:
            assert (root / fam.name).is_dir(), f"give family {fam.name!r} a directory layout in this fixture"
            out[fam.name] = (str(root / fam.name), None)
    return out


def sample(kind) -> tuple[str, object]:
    """(command-line text, the value it means) for an option of this type."""
    name = type_name(kind)
    if name in SAMPLES:
        return SAMPLES[name]
    choice = name.split("|")[-1]  # a Literal's last choice
    return choice, choice


def test_each_family_resolves_from_its_own_names(names):
    for fam in families():
        model, preset = names[fam.name]
        assert resolve(model, preset)[0] is fam, fam.name
    assert resolve("CodeGoat24/UNIFIEDREWARD-qwen-32b") == (resolve("CodeGoat24/UnifiedReward-qwen-7b")[0],
                                                            "unifiedreward")  # case-insensitive, {3b,..} sizes
    assert resolve("pickscore@/ckpt/PickScore_v1")[0].name == "pickscore"
    assert resolve("hpsv2.1")[0].name == "hpsv2"
    with pytest.raises(ConfigError, match="unknown preset 'nope'; known presets: "):
        resolve("tiny", "nope")


def test_the_registry_imports_no_torch():
    code = ("import sys; from mmreward.registry import families, catalog; families(); catalog(); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_option_is_typed_and_listed_in_models_json(family, capsys):
    assert main(["models", "--format", "json"]) == 0
    listed = {entry["family"]: entry for entry in json.loads(capsys.readouterr().out)}
    fam = next(f for f in families() if f.name == family)
    options = listed[family]["options"]
    assert [o["name"] for o in options] == list(fam.option_fields())
    for option in options:
        assert option["help"], (family, option["name"])
        assert option["type"] in SAMPLES or "|" in option["type"], (family, option)
    assert listed[family]["models"], f"{family} has no catalog row"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_option_is_settable_from_score_and_from_config(family, names, tmp_path):
    """Each option through `--model-option KEY=VALUE`, through its own flag where the command
    has one, and through a --config file: all reach the family's options dataclass typed."""
    fam = next(f for f in families() if f.name == family)
    model, preset = names[family]
    base = ["--model", model, "--input", "in.jsonl", "--output", "out.jsonl"] + (["--preset", preset] if preset else [])
    flags = {a.dest: a for a in build_parser(score.COMMAND, "mmreward score")._actions}
    for name, (kind, _) in fam.option_fields().items():
        if name == "preset":
            continue
        text, value = sample(kind)
        ways = [["--model-option", f"{name}={text}"]]
        config = tmp_path / f"{name}.json"
        if name in flags and name not in ("model", "mode"):
            flag = f"--{name.replace('_', '-')}"
            ways.append([flag, *text.split(",")] if flags[name].nargs == "+" else [flag, text])
            config.write_text(json.dumps({name: value}))
        else:
            config.write_text(json.dumps({"model_option": {name: text}}))
        ways.append(["--config", str(config)])
        for way in ways:
            model_opts, judge, _ = parse(score.COMMAND, base + way, "mmreward score")
            options = fam.parse_options(load_kwargs(model_opts, judge))
            assert getattr(options, name) == value, (family, name, way)


def test_videoreward_checkpoint_step_and_base_reach_the_loader(names, tmp_path):
    model, _ = names["videoreward"]
    config = tmp_path / "c.yaml"
    config.write_text(f"model: {model}\ncheckpoint_step: 400\nbase: /models/Qwen2-VL-2B-Instruct\n")
    for argv in (["--model", model, "--checkpoint-step", "400", "--base", "/models/Qwen2-VL-2B-Instruct"],
                 ["--config", str(config)]):
        model_opts, judge, _ = parse(score.COMMAND, argv + ["--input", "i", "--output", "o"], "mmreward score")
        options = resolve(model_opts.model)[0].parse_options(load_kwargs(model_opts, judge))
        assert (options.checkpoint_step, options.base) == (400, "/models/Qwen2-VL-2B-Instruct")


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_and_mistyped_options_are_one_line_at_load_naming_the_valid_ones(family, names):
    fam = next(f for f in families() if f.name == family)
    model, preset = names[family]
    # a combo hands options it does not take to its parts, which refuse them in their own words
    refuser = resolve("pickscore")[0] if fam.forwards_options else fam
    with pytest.raises(ConfigError) as err:
        mmreward.load(model, preset=preset, bogus_option=1)
    assert str(err.value) == (f"{refuser.title} does not take bogus_option; its options: "
                              f"{', '.join(refuser.option_fields())} (see `mmreward models --format json`)")
    typed = [(n, k) for n, (k, _) in fam.option_fields().items() if _plain(k) in (int, float, bool)]
    if typed:
        name, kind = typed[0]
        with pytest.raises(ConfigError) as err:
            mmreward.load(model, preset=preset, **{name: "abc"})
        assert str(err.value) == f"{fam.title}: option {name} must be {type_name(kind)}, got 'abc'"
    if not fam.forwards_options:  # the same message from the command line, before any load
        argv = ["--model", model, "--model-option", "bogus_option=1", "--input", "i", "--output", "o"]
        model_opts, judge, _ = parse(score.COMMAND, argv + (["--preset", preset] if preset else []), "score")
        with pytest.raises(ConfigError) as cli:
            load_kwargs(model_opts, judge)
        assert str(cli.value).startswith(f"{fam.title} does not take bogus_option; its options: ")


def test_adding_a_family_is_its_module_and_one_registry_line(monkeypatch, capsys):
    """docs/architecture.md's worked example ("Adding a family"), as written: its module and one
    line in FAMILIES make the name load-able, its options typed, listed, on the command line."""
    import re
    import types
    from pathlib import Path

    from mmreward import registry
    from mmreward.commands.common import judge_options

    doc = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    code = re.search(r"#### Adding a family\n.*?```python\n(.*?)```", doc, re.S).group(1)
    module = types.ModuleType("mmreward.rewards.myscore")
    monkeypatch.setitem(sys.modules, "mmreward.rewards.myscore", module)
    exec(compile(code, "docs/architecture.md (Adding a family)", "exec"), module.__dict__)
    monkeypatch.setattr(registry, "FAMILIES", (*registry.FAMILIES[:-1], "mmreward.rewards.myscore:FAMILY",
                                               registry.FAMILIES[-1]))
    registry.families.cache_clear()
    try:
        fam = resolve("myscore@/ckpt/myscore")[0]
        assert fam is module.FAMILY and resolve("myscore")[0] is fam
        judge = judge_options.__wrapped__()  # the command line, generated again from the registry
        flag = next(f for f in dataclasses.fields(judge) if f.name == "checkpoint")  # HPSv2's and its own
        assert "MyScore: the weights (default org/myscore-v1)" in flag.metadata["help"]
        assert fam.parse_options({"checkpoint": "/ckpt/x", "device": "cpu"}).checkpoint == "/ckpt/x"
        with pytest.raises(ConfigError, match="^MyScore does not take criteria; its options: dtype, device"):
            mmreward.load("myscore", criteria="x")
        assert main(["models", "--format", "json"]) == 0
        listed = {f["family"]: f for f in json.loads(capsys.readouterr().out)}
        assert [o["name"] for o in listed["myscore"]["options"]][-1] == "checkpoint"
        assert registry.catalog()[-2]["name"] == "myscore"  # before the default family's row
    finally:
        registry.families.cache_clear()


def test_a_combo_types_its_parts_options_from_the_command_line():
    argv = ["--model", "combo:pickscore=1,ocr=0.5", "--model-option", "threads=2", "reduce=mean",
            "--input", "i", "--output", "o"]
    model_opts, judge, _ = parse(score.COMMAND, argv, "mmreward score")
    assert load_kwargs(model_opts, judge) == {"threads": 2, "reduce": "mean"}  # OCR's int, the combo's own
