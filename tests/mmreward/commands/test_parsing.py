"""The CLI generated from config dataclasses: flags, defaults in --help, --config files."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pytest

from mmreward.commands.parsing import Command, build_parser, parse
from mmreward.errors import ConfigError


@dataclass
class Inner:
    _argument_group_name = "inner"

    media_root: str | None = field(default=None, metadata={"help": "where media live"})
    batch_size: int = field(default=8, metadata={"help": "prompts per pass"})


@dataclass
class Outer:
    data: str = field(metadata={"help": "input file"})
    lr: float = field(default=2e-4, metadata={"aliases": ["--learning-rate"], "help": "step size"})
    dims: list[str] = field(default_factory=list, metadata={"help": "named heads"})
    form: Literal["a", "b"] = field(default="a", metadata={"help": "which form"})
    quiet: bool = field(default=False, metadata={"help": "no output"})

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


COMMAND = Command(configs=(Inner, Outer), description="test command")


def test_flags_in_both_spellings_and_types():
    inner, outer = parse(COMMAND, ["--data", "x.jsonl", "--media_root", "m", "--batch-size", "3",
                                   "--learning-rate", "0.5", "--dims", "VQ", "MQ", "--form", "b", "--quiet"], "t")
    assert (inner.media_root, inner.batch_size) == ("m", 3)
    assert (outer.data, outer.lr, outer.dims, outer.form, outer.quiet) == ("x.jsonl", 0.5, ["VQ", "MQ"], "b", True)


def test_help_shows_real_defaults_and_dashed_names(capsys):
    text = build_parser(COMMAND, "t").format_help()
    assert "--batch-size BATCH_SIZE" in text and "--batch_size" not in text
    assert "prompts per pass (default: 8)" in text and "step size (default: 0.0002)" in text
    assert "--config FILE" in text


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_config_file_then_flags_override(tmp_path, suffix):
    values = {"data": "from-file.jsonl", "lr": 0.1, "batch-size": 4, "dims": ["TA"], "quiet": True}
    path = tmp_path / f"cfg{suffix}"
    if suffix == ".yaml":
        import yaml

        path.write_text(yaml.safe_dump(values))
    else:
        path.write_text(json.dumps(values))
    inner, outer = parse(COMMAND, ["--config", str(path), "--lr", "1e-4"], "t")
    assert outer.data == "from-file.jsonl"  # a required option may come from the file alone
    assert outer.lr == 1e-4  # the command line wins
    assert inner.batch_size == 4 and outer.dims == ["TA"] and outer.quiet is True


def test_config_file_errors_name_the_file_and_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: x\nlearning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown option 'learning_rat'"):
        parse(COMMAND, ["--config", str(bad)], "t")
    with pytest.raises(ConfigError, match="no such file"):
        parse(COMMAND, ["--config", str(tmp_path / "missing.yaml")], "t")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse(COMMAND, ["--config", str(tmp_path / "list.yaml")], "t")
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(ConfigError, match="not valid json"):
        parse(COMMAND, ["--config", str(tmp_path / "broken.json")], "t")


def test_bad_values_are_config_errors_or_usage_errors(capsys):
    with pytest.raises(ConfigError, match="lr must be positive"):
        parse(COMMAND, ["--data", "x", "--lr", "-1"], "t")
    with pytest.raises(SystemExit) as exc:  # argparse's own check: exit 2 with the usage line
        parse(COMMAND, ["--data", "x", "--form", "c"], "t")
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_the_real_score_command_takes_a_config_file(tmp_path, capsys):
    from mmreward.cli import main

    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"input: {tmp_path / 'missing.jsonl'}\noutput: {tmp_path / 'out.jsonl'}\n")
    assert main(["score", "--config", str(cfg)]) == 2  # checked before any model loads
    err = capsys.readouterr().err
    assert err.startswith("mmreward score: ") and "missing.jsonl" in err and "no such file" in err
