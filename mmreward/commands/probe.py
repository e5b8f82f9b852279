"""`mmreward probe`: how a reward model can be hacked, measured on your own records."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmreward.commands.parsing import Command
from mmreward.errors import ConfigError, InputError
from mmreward.commands.common import JudgeOptions
from mmreward.models.options import ModelOptions, check_positive


@dataclass
class ProbeConfig:
    _argument_group_name = "probing"

    data: str = field(metadata={"help": "JSONL of records (docs/architecture.md, 'Scoring records'), "
                                        "1 or 2 candidates each"})
    out: str = field(metadata={"help": "directory for probe.json, probe.md and probe.png"})
    media_root: str | None = field(default=None, metadata={
        "help": "directory media paths are relative to; nothing outside it is read "
                "(default: the working directory, unconfined)"})
    probes: list[str] | None = field(default=None, metadata={
        "help": "probes or families to run (order, text, image, typographic, prompt, video). Default: all"})
    limit: int | None = field(default=None, metadata={"help": "probe only the first N records"})
    seed: int = field(default=0, metadata={"help": "seed of every perturbation and of the bootstrap"})
    bootstrap: int = field(default=1000, metadata={"help": "bootstrap resamples for the confidence intervals"})
    flag_threshold: float = field(default=0.2, metadata={
        "help": "flag a probe whose flip-rate confidence interval lies above this rate"})
    tie_tolerance: float | None = field(default=None, metadata={
        "help": "rewards closer than this count as a tie. Default: 1e-3 x the s.d. of the baseline rewards"})
    batch_size: int = field(default=8, metadata={"help": "prompts per forward pass"})
    no_progress: bool = field(default=False, metadata={"help": "no progress bar"})

    def __post_init__(self):
        check_positive(self, ("batch_size",))
        if self.bootstrap < 0:
            raise ConfigError(f"--bootstrap must be >= 0, got {self.bootstrap}")
        check_positive(self, ("limit",))
        from mmreward.probe import select

        select(self.probes)  # an unknown probe name fails here, before the model loads


def run(model_opts: ModelOptions, judge: JudgeOptions, cfg: ProbeConfig) -> int:
    from mmreward.commands.common import check_model, load_model, read_records

    # before minutes of model loading; a line that is not JSON stays a RecordError: the report lists it
    records = read_records(cfg.data, "--data")
    if cfg.media_root is not None and not Path(cfg.media_root).is_dir():
        raise InputError(f"--media-root {cfg.media_root!r}: no such directory")
    check_model(model_opts)
    from mmreward.probe import probe

    model = load_model(model_opts, judge)
    report = probe(model, records, cfg.media_root, cfg.out, probes=cfg.probes, seed=cfg.seed,
                   n_bootstrap=cfg.bootstrap, batch_size=cfg.batch_size, video_frames=model_opts.video_frames,
                   tie_tolerance=cfg.tie_tolerance, flag_threshold=cfg.flag_threshold, max_records=cfg.limit,
                   progress=not cfg.no_progress)
    flagged = [r["probe"] for r in report["probes"] if r.get("flagged")]
    recs = report["records"]
    print(f"{cfg.out}/probe.md: {len(report['probes'])} probes on {recs['usable']} of {recs['given']} records; "
          f"flagged: {', '.join(flagged) or 'none'}", file=sys.stderr)
    return 0


COMMAND = Command(
    configs=(ModelOptions, JudgeOptions, ProbeConfig),
    run=run,
    description=(
        "Probe a reward model for the weaknesses an RL policy would exploit: candidate order, master keys, "
        "length and markdown padding, image invariances (JPEG, resize, crop, colour jitter) and "
        "sensitivities (blank, black, noise), painted text, wrong prompts, shuffled/reversed/frozen videos. "
        "For each probe: records, flip rate and mean reward shift with bootstrap confidence intervals, "
        "in OUT/probe.json, OUT/probe.md and OUT/probe.png; a probe that does not apply says why."),
)
