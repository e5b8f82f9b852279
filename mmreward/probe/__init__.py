"""Probe a reward model for the weaknesses an RL policy would find (docs/architecture.md, "Probe").

    import mmreward
    from mmreward.probe import probe

    rm = mmreward.load("tiny", mode="generative")
    report = probe(rm, records, media_root="data/", out_dir="runs/probe")  # + probe.json/.md/.png
    [(r["probe"], r.get("flip_rate")) for r in report["probes"]]

Works on any `mmreward.scoring.base.BaseRewardModel`. One module per probe family (`order`,
`text`, `image`, `typographic`, `prompt`, `video`), the runner, and the report.
"""
from __future__ import annotations

from mmreward.probe.runner import ALL_PROBES, ProbeOptions, run_probes, select

__all__ = ["ALL_PROBES", "ProbeOptions", "probe", "run_probes", "select"]


def probe(model, records, media_root=None, out_dir="probe-out", **options) -> dict:
    """Run the battery and write probe.json, probe.md and probe.png into `out_dir`; returns the
    report. `options` are `ProbeOptions` fields (probes, seed, n_bootstrap, batch_size, ...)."""
    from mmreward.probe.report import write

    report = run_probes(model, records, media_root, ProbeOptions(**options))
    write(report, out_dir)
    return report
