"""Calibrating a reward model on held-out preference records (`mmreward calibrate`).

Two calibrations, both stored in the checkpoint's `reward_config.json` and applied whenever the
loaded model produces scores (`RewardConfig.normalize`, `YesTokenRewardModel.forward`):

- scalar heads: a normalisation (mean, std) per head, fitted over every candidate's raw
  reward, so rewards read as z-scores: (raw - mean) / std, as VideoReward's inference
  normalises its VQ/MQ/TA heads (KwaiVGI/VideoAlign, inference.py, `_norm`);
- P(yes) judges: temperature scaling (Guo et al. 2017): P(yes) = softmax(logits / T), T fitted
  by maximum likelihood of the held-out preferences.

Calibration error is the expected calibration error (ECE) of the top-label confidence: for a
pair, the probability the model gives its preferred candidate (scalar: Bradley-Terry
sigmoid(r_a - r_b); pairwise judge: its reward of the first candidate; pointwise judge: each
candidate's P(yes) against "this is the chosen one"), binned over [0.5, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmreward.errors import ConfigError, InputError

# Temperature used while fitting: it keeps P(yes) away from float32 saturation, so the raw
# logits are recovered exactly from the scored probabilities (logit = FIT_T * logit(p)).
FIT_T = 32.0
# The fitted temperature stays in [1/100, 100]: a judge at or below chance has its likelihood
# maximised by T -> infinity (every P(yes) -> 0.5); the bound gives it P(yes) within ~1% of 0.5.
T_BOUNDS = (1e-2, 1e2)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def labelled(records: list) -> list[dict]:
    """The held-out records usable for calibration: two candidates and `"chosen": 0 | 1`."""
    out = [r for r in records if isinstance(r, dict) and len(r.get("candidates") or []) == 2
           and r.get("chosen") in (0, 1)]
    if not out:
        raise InputError("calibration needs preference records: two candidates and \"chosen\": 0 or 1")
    return out


def ece(p_first: np.ndarray, first_chosen: np.ndarray, bins: int = 10) -> tuple[float, list[dict]]:
    """(ECE, reliability bins) of top-label confidences: for each record the probability of the
    side the model prefers, against whether that side is the chosen one."""
    p = np.asarray(p_first, dtype=np.float64)
    y = np.asarray(first_chosen, dtype=bool)
    conf = np.maximum(p, 1 - p)
    correct = (p >= 0.5) == y
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    total, table = 0.0, []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        row = {"low": float(edges[b]), "high": float(edges[b + 1]), "n": n,
               "confidence": float(conf[mask].mean()) if n else None,
               "accuracy": float(correct[mask].mean()) if n else None}
        if n:
            total += n / len(p) * abs(row["confidence"] - row["accuracy"])
        table.append(row)
    return float(total), table


def nll(p_first, first_chosen) -> float:
    p = np.clip(np.asarray(p_first, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(first_chosen, dtype=np.float64)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def fit_inverse_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 50) -> float:
    """argmax_b of sum log sigmoid(+-b * logit) over b = 1/T in the bounds: a 1-D logistic
    regression without intercept, concave in b, solved by Newton's method."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    low, high = 1 / T_BOUNDS[1], 1 / T_BOUNDS[0]
    if not np.any(z):
        return 1.0
    b = 1.0
    for _ in range(steps):
        p = _sigmoid(b * z)
        grad, hess = float(((p - y) * z).sum()), float((p * (1 - p) * z * z).sum())
        if hess <= 1e-12:
            break
        new = min(max(b - grad / hess, b / 10, low), high)  # damped: never jump to or past zero
        if abs(new - b) < 1e-10 * max(1.0, b):
            b = new
            break
        b = new
    return b


@dataclass
class Scores:
    """What the fit needs from one scoring pass over the labelled records."""

    first_chosen: np.ndarray  # [n] bool
    rewards: dict[str, np.ndarray] | None = None  # scalar: head -> [n, 2] raw rewards
    logits: np.ndarray | None = None  # generative: [n, q] yes-minus-no logits of each question
    pairwise: bool = True
    both_orders: bool = True


def _config(model):
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "normalization"):
        raise ConfigError(f"calibration is stored in a checkpoint's reward_config.json; the model "
                          f"{model.info.get('name')!r} ({model.info.get('kind')}) has none")
    return config


def _score(model, records, media_root, batch_size) -> tuple[list[tuple[dict, dict]], np.ndarray]:
    """([(record, output)] of the records scored without error, [n] bool: their first candidate was chosen)."""
    outs = model.score(records, media_root=media_root, batch_size=batch_size)
    failed = [o for o in outs if "error" in o]
    if len(failed) == len(outs):
        raise InputError(f"no held-out record could be scored, e.g. {failed[0]['id']!r}: {failed[0]['error']}")
    keep = [(r, o) for r, o in zip(records, outs) if "error" not in o]
    return keep, np.array([r["chosen"] == 0 for r, _ in keep])


def raw_scores(model, records: list, media_root=None, batch_size: int = 8) -> Scores:
    """Score with any stored calibration switched off (the fit starts from raw outputs)."""
    config = _config(model)
    saved = config.normalization, config.temperature
    config.normalization, config.temperature = None, FIT_T if config.mode == "generative" else None
    try:
        keep, first = _score(model, records, media_root, batch_size)
    finally:
        config.normalization, config.temperature = saved
    if config.mode == "scalar":
        heads = {"overall": np.array([o["rewards"] for _, o in keep])}
        for d in keep[0][1].get("dimensions", {}):
            heads[d] = np.array([o["dimensions"][d] for _, o in keep])
        return Scores(first, rewards=heads)
    pairwise = config.form != "pointwise"  # "auto" is pairwise for two candidates
    p = np.clip(np.array([o["p_yes"] for _, o in keep], dtype=np.float64), 1e-300, 1 - 1e-16)
    return Scores(first, logits=FIT_T * np.log(p / (1 - p)), pairwise=pairwise, both_orders=config.both_orders)


def preference_probability(scores: Scores, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) the ECE is measured on, under calibration `params`."""
    if scores.rewards is not None:
        r = scores.rewards["overall"]
        mean, std = params.get("normalization", {}).get("overall", (0.0, 1.0))
        z = (r - mean) / std
        return _sigmoid(z[:, 0] - z[:, 1]), scores.first_chosen
    t = params.get("temperature") or 1.0
    p = _sigmoid(scores.logits / t)
    if not scores.pairwise:  # pointwise: each candidate's P(yes) against "it is the chosen one"
        return p.reshape(-1), np.stack([scores.first_chosen, ~scores.first_chosen], 1).reshape(-1)
    p_first = (p[:, 0] + 1 - p[:, 1]) / 2 if scores.both_orders and p.shape[1] > 1 else p[:, 0]
    return p_first, scores.first_chosen


def fit(scores: Scores) -> dict:
    """The calibration parameters (RewardConfig fields) for these raw scores."""
    if scores.rewards is not None:
        return {"normalization": {h: [float(v.mean()), float(v.std()) or 1.0] for h, v in scores.rewards.items()}}
    if scores.pairwise:  # question 0 asks "is the first better?", question 1 (both orders) the reverse
        labels = np.stack([scores.first_chosen, ~scores.first_chosen], 1)[:, : scores.logits.shape[1]]
    else:
        labels = np.stack([scores.first_chosen, ~scores.first_chosen], 1)
    b = fit_inverse_temperature(scores.logits.reshape(-1), labels.reshape(-1))
    return {"temperature": 1.0 / b}


def metrics(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """n, ECE, NLL, accuracy and the reliability bins of probabilities `p` against labels `y`."""
    value, table = ece(p, y, bins)
    return {"n": int(len(p)), "ece": value, "nll": nll(p, y), "accuracy": float(((p >= 0.5) == y).mean()),
            "reliability": table}


def measure(scores: Scores, params: dict, bins: int = 10) -> dict:
    return metrics(*preference_probability(scores, params), bins)


def calibrate(model, records: list, media_root=None, batch_size: int = 8, bins: int = 10,
              source: str | None = None) -> dict:
    """Fit on `records` (held-out preference pairs), apply to `model` in place, and report
    ECE before and after on those records. `model.save_pretrained` then stores it."""
    records = labelled(records)
    config = _config(model)
    scores = raw_scores(model, records, media_root, batch_size)
    params = fit(scores)
    before, after = measure(scores, {}, bins), measure(scores, params, bins)
    config.normalization = params.get("normalization")
    config.temperature = params.get("temperature")
    config.calibration = {"method": "normalization" if config.mode == "scalar" else "temperature",
                          "fitted_on": source, "records": int(len(scores.first_chosen)),
                          "ece_before": before["ece"], "ece_after": after["ece"]}
    config.__post_init__()
    return {"params": params, "fit": {"before": before, "after": after}, "info": model.info}


def evaluate(model, records: list, media_root=None, batch_size: int = 8, bins: int = 10) -> dict:
    """ECE of the model as it is now (calibrated or not) on other held-out records, from its outputs."""
    records = labelled(records)
    config = _config(model)
    keep, first = _score(model, records, media_root, batch_size)
    rewards = np.array([o["rewards"] for _, o in keep], dtype=np.float64)
    if config.mode == "scalar":
        p, y = _sigmoid(rewards[:, 0] - rewards[:, 1]), first
    elif config.form == "pointwise":
        p, y = rewards.reshape(-1), np.stack([first, ~first], 1).reshape(-1)
    else:
        p, y = rewards[:, 0], first
    return metrics(p, y, bins)


def reliability_diagram(panels: list[tuple[str, dict]], path, title: str) -> None:
    """One panel per (label, measure() result): accuracy per confidence bin against the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4), squeeze=False)
    for ax, (label, m) in zip(axes[0], panels):
        rows = [r for r in m["reliability"] if r["n"]]
        width = m["reliability"][0]["high"] - m["reliability"][0]["low"]
        ax.bar([r["low"] for r in rows], [r["accuracy"] for r in rows], width=width, align="edge",
               edgecolor="black", color="tab:blue", alpha=0.8, label="accuracy")
        ax.plot([0.5, 1], [0.5, 1], color="grey", linestyle="--", label="perfect calibration")
        ax.scatter([r["confidence"] for r in rows], [r["accuracy"] for r in rows], color="black", s=10, zorder=3)
        ax.set_xlim(0.5, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence in the preferred side")
        ax.set_ylabel("fraction right")
        ax.set_title(f"{label}: ECE {m['ece']:.3f} (n={m['n']})", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
