"""`mmreward calibrate`: fit a reward normalisation (scalar) or a P(yes) temperature (generative)
on held-out preference records, store it in the checkpoint, report ECE before and after."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.commands.parsing import Command
from mmreward.errors import ConfigError
from mmreward.commands.common import JudgeOptions
from mmreward.models.options import ModelOptions, check_positive


@dataclass
class CalibrateConfig:
    _argument_group_name = "calibration"

    data: str = field(metadata={"help": "held-out JSONL preference records (2 candidates, \"chosen\": 0|1) to fit on"})
    out: str = field(metadata={"help": "directory for calibration.json, calibration.md, reliability.png and "
                                       "the calibrated reward_config.json"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory media paths are relative to; nothing outside it is read"})
    eval_data: str | None = field(default=None, metadata={
        "help": "other held-out records: ECE before/after measured on them with the calibrated model"})
    save_to: str | None = field(default=None, metadata={
        "help": "write the calibrated checkpoint (weights, processor, reward_config.json) to this directory"})
    in_place: bool = field(default=False, metadata={
        "help": "store the calibration in --model's own reward_config.json (a local checkpoint directory)"})
    bins: int = field(default=10, metadata={"help": "confidence bins over [0.5, 1] for ECE and the diagram"})
    batch_size: int = field(default=8, metadata={"help": "prompts per forward pass"})

    def __post_init__(self):
        check_positive(self, ("bins", "batch_size"))


def _records(path: str, flag: str) -> list:
    from mmreward.commands.common import read_records

    return [r for r in read_records(path, flag) if not isinstance(r, Exception)]


def markdown(report: dict) -> str:
    info, params = report["info"], report["params"]
    lines = [f"# Calibration: {info.get('name')} ({info.get('kind')})", "",
             "Parameters stored in reward_config.json: " + json.dumps(params), "",
             "| records | set | n | ECE | NLL | accuracy |", "|---|---|---:|---:|---:|---:|"]
    for label, block in (("fit (" + report["data"] + ")", report["fit"]),
                         *((("eval (" + report["eval_data"] + ")", report["eval"]),) if "eval" in report else ())):
        for when in ("before", "after"):
            m = block[when]
            lines.append(f"| {label} | {when} | {m['n']} | {m['ece']:.4f} | {m['nll']:.4f} | {m['accuracy']:.3f} |")
    return "\n".join(lines) + "\n"


def run(model_opts: ModelOptions, judge: JudgeOptions, cfg: CalibrateConfig) -> int:
    from mmreward.commands.common import check_model, load_model

    fit_records = _records(cfg.data, "--data")  # before minutes of model loading
    eval_records = _records(cfg.eval_data, "--eval-data") if cfg.eval_data else None
    if cfg.in_place and not Path(model_opts.model).is_dir():
        raise ConfigError(f"--in-place needs --model to be a local checkpoint directory, got {model_opts.model!r}")
    check_model(model_opts)
    from mmreward.calibration import calibrate, evaluate, reliability_diagram

    model = load_model(model_opts, judge)
    before_eval = evaluate(model, eval_records, cfg.media_root, cfg.batch_size, cfg.bins) if eval_records else None
    report = calibrate(model, fit_records, cfg.media_root, cfg.batch_size, cfg.bins, source=cfg.data)
    report["data"] = cfg.data
    if eval_records:
        report["eval_data"] = cfg.eval_data
        report["eval"] = {"before": before_eval,
                          "after": evaluate(model, eval_records, cfg.media_root, cfg.batch_size, cfg.bins)}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model.config.save(out)
    (out / "calibration.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "calibration.md").write_text(markdown(report), encoding="utf-8")
    shown = report.get("eval", report["fit"])
    reliability_diagram([("before", shown["before"]), ("after", shown["after"])], out / "reliability.png",
                        f"{model.info.get('name')}: reliability on {'eval' if 'eval' in report else 'fit'} records")
    if cfg.save_to:
        model.save_pretrained(cfg.save_to)
    if cfg.in_place:
        model.config.save(model_opts.model)
    print(f"{out}/calibration.md: ECE {shown['before']['ece']:.4f} -> {shown['after']['ece']:.4f} "
          f"({'eval' if 'eval' in report else 'fit'} records); {json.dumps(report['params'])}", file=sys.stderr)
    return 0


COMMAND = Command(
    configs=(ModelOptions, JudgeOptions, CalibrateConfig),
    run=run,
    description=(
        "Calibrate a reward model on held-out preference records: a reward normalisation (mean, std per "
        "head) for scalar models, temperature scaling of P(yes) for generative judges. Writes the calibrated "
        "reward_config.json (and with --save-to a whole checkpoint, with --in-place into --model), "
        "calibration.json/.md with the expected calibration error before and after, and reliability.png. "
        "A calibrated checkpoint applies the calibration whenever it scores and says so in `info`."),
)
