"""The probe report: probe.json (everything), probe.md (a table) and probe.png (a plot)."""
from __future__ import annotations

import json
from pathlib import Path


def _pct(value, ci) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _num(value, ci) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g} [{ci[0]:+.3g}, {ci[1]:+.3g}]"


def _row(name: str, r: dict, what: str) -> str:
    verdict = "**FLAG**" if r.get("flagged") else "ok"
    return (f"| {name} | {what} | {r['n_records']} | {r['n_cases']} | {_pct(r['flip_rate'], r['flip_ci'])} | "
            f"{_num(r['shift'], r['shift_ci'])} | {verdict} |")


def markdown(report: dict) -> str:
    model, recs = report["model"], report["records"]
    untrained = " **Untrained head: its scores are noise.**" if model.get("untrained_head") else ""
    lines = [f"# Probe report: {model.get('name')} ({model.get('kind')})", "",
             f"{recs['usable']} of {recs['given']} records usable; tie tolerance {report['tie_tolerance']:.3g} "
             f"(baseline reward s.d. {report['reward_sd']:.4g}); {report['n_bootstrap']} bootstrap resamples "
             f"of records, 95% intervals; **FLAG**: the flip-rate interval lies above "
             f"{100 * report['flag_threshold']:.0f}%.{untrained}", "",
             "| probe | what counts as a flip | records | cases | flip rate [95% CI] | mean reward shift [95% CI] "
             "| verdict |", "|---|---|---:|---:|---:|---:|---|"]
    notes = []
    for r in report["probes"]:
        if r["status"] != "ok":
            label = "not applicable" if r["status"] == "not_applicable" else "failed"
            lines.append(f"| {r['probe']} | {r['flip_rule']} | - | - | - | - | {label}: {r['reason']} |")
            continue
        lines.append(_row(r["probe"], r, r["flip_rule"]))
        for dim, d in r.get("dimensions", {}).items():
            if r["family"] == "video":
                lines.append(_row(f"&nbsp;&nbsp;{r['probe']} / {dim}", d, f"{dim}: " + r["flip_rule"]))
        for variant, v in r.get("by_variant", {}).items():
            notes.append(f"| {r['probe']} | `{json.dumps(variant, ensure_ascii=False)}` | {v['n_cases']} | "
                         f"{_pct(v['flip_rate'], v['flip_ci'])} | {_num(v['shift'], v['shift_ci'])} |")
    if notes:
        lines += ["", "Per variant:", "", "| probe | variant | cases | flip rate [95% CI] | mean reward shift |",
                  "|---|---|---:|---:|---:|", *notes]
    lines += ["", "Probes:", ""] + [f"- `{r['probe']}` ({r['family']}): {r['description']}" for r in report["probes"]]
    if recs["errors"]:
        lines += ["", f"{len(recs['errors'])} records could not be used, e.g. record {recs['errors'][0]['record']}: "
                      f"{recs['errors'][0]['error']}"]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in tests
    import matplotlib.pyplot as plt

    probes = report["probes"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.32 * len(probes) + 1.6), sharey=True)
    ys = range(len(probes))
    for y, r in zip(ys, probes):
        if r["status"] != "ok" or r["flip_rate"] is None:
            left.text(0.01, y, "not applicable" if r["status"] == "not_applicable" else r["status"],
                      va="center", fontsize=7, color="grey")
            continue
        colour = "tab:red" if r.get("flagged") else "tab:blue"
        lo, hi = r["flip_ci"]
        left.barh(y, r["flip_rate"], color=colour, alpha=0.8)
        left.errorbar(r["flip_rate"], y, xerr=[[r["flip_rate"] - lo], [hi - r["flip_rate"]]], fmt="o",
                      color="black", capsize=2, linewidth=1, markersize=3)
        if "shift_in_sd" in r:
            s, (slo, shi) = r["shift_in_sd"], r["shift_in_sd_ci"]
            right.errorbar(s, y, xerr=[[s - slo], [shi - s]], fmt="o", color=colour, capsize=2, markersize=4)
    left.set_yticks(list(ys), [r["probe"] for r in probes], fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.axvline(report["flag_threshold"], color="grey", linestyle=":", linewidth=1)
    left.set_xlabel("flip rate (95% CI)")
    right.axvline(0, color="black", linewidth=1)
    right.set_xlabel("mean reward shift, in s.d. of the baseline rewards (95% CI)")
    fig.suptitle(f"probe: {report['model'].get('name')} ({report['model'].get('kind')})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(report: dict, out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "probe.json", out_dir / "probe.md", out_dir / "probe.png"]
    paths[0].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(report), encoding="utf-8")
    plot(report, paths[2])
    return paths
