"""Rejection sampling: which sampled traces are kept, the keep rate, and SFT on the kept ones.

Sampling is replaced by scripted traces (a random tiny model never answers, so it would keep
nothing); everything after the sampler is the real recipe on the real tiny model.
"""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent_fixtures import CONFIG, LABELS, TEXTS, changed_weights, only_adapted, scripted, write_clips  # noqa: E402

WRONG = TEXTS[:2] + ["Video 1.<answer>TA: 1, VQ: 2, MQ: 1, OA: 2</answer>"]  # TA wrong
MALFORMED = TEXTS[:2] + ["<answer>TA: 2, VQ: 2, OA: 2</answer>"]  # MQ missing


def fake_rollout_batch(model, processor, videos, prompt, config, n, media_root=None, generator=None, *,
                       id=None, labels=None, **kw):
    """k = 4 'samples': right, wrong on one dimension, malformed, right."""
    out = [scripted(videos, texts, id=id) for texts in (TEXTS, WRONG, MALFORMED, TEXTS)][:n]
    for t in out:
        t.labels = labels
    return out


def test_keeps_only_fully_right_format_valid_traces(monkeypatch, tmp_path):
    import mmreward.agent.loop as loop
    from mmreward.train.agent.rft import sample_and_filter

    monkeypatch.setattr(loop, "rollout_batch", fake_rollout_batch)
    items = [{"id": f"i{i}", "prompt": "p", "videos": ["clip0.mp4", "clip1.mp4"], "labels": LABELS}
             for i in range(3)]
    kept, report = sample_and_filter(_Dummy(), None, items, 4, CONFIG)
    assert len(kept) == 6 and all(t.turns[-1] == TEXTS[-1] for t in kept)
    assert report["sampled"] == 12 and report["kept"] == 6 and report["keep_rate"] == 0.5
    assert report["format_rate"] == 0.75 and report["items_with_a_kept_trace"] == 3


@pytest.mark.slow
def test_rft_main_writes_keep_rate_and_fine_tunes_lora_adapters(monkeypatch, tmp_path, capsys):
    import mmreward.agent.loop as loop
    from mmreward.cli import main

    monkeypatch.setattr(loop, "rollout_batch", fake_rollout_batch)
    videos = write_clips(tmp_path)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"i{i}", "prompt": "p", "videos": videos, "labels": LABELS})
                             + "\n" for i in range(2)))
    out = tmp_path / "rft"
    assert main(["train", "rft", "--items", str(items), "--out", str(out), "--k", "4", "--max-steps", "1",
                 "--batch-size", "2", "--initial-frames", "2", "--candidate-frames", "8",
                 "--max-frames-per-call", "2", "--frame-max-pixels", str(56 * 56), "--lora-r", "4", "--lr", "1e-2",
                 "--warmup-ratio", "0"]) == 0
    report = json.loads((out / "rft_keep_rate.json").read_text())
    assert report["keep_rate"] == 0.5 and report["kept"] == 4
    assert len((out / "rft_traces.jsonl").read_text().splitlines()) == 4
    assert "keep rate 50.0%" in capsys.readouterr().out
    assert only_adapted(changed_weights(out))  # SFT with LoRA on the kept traces, merged into --out


class _Dummy:
    training = False

    def eval(self):
        return self

    def train(self, mode=True):
        return self


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_sample_disjoint_shares_and_merge_the_counts(tmp_path):
    from agent_fixtures import small_agent_args, torchrun, write_items

    write_clips(str(tmp_path))
    items = write_items(str(tmp_path), 4)
    out = tmp_path / "rft"
    res = torchrun("train", "rft", "--items", items, "--model", "tiny", "--out", str(out), "--k", "2",
                   "--temperature", "1.0", "--max-steps", "1", *small_agent_args())
    # the random tiny model never answers: nothing is kept, which is reported once and exits 1
    assert res.returncode == 1, res.stderr[-3000:]
    assert res.stdout.count("rft: no rollout was kept") == 1
    report = json.loads((out / "rft_keep_rate.json").read_text())
    assert (report["items"], report["sampled"], report["kept"]) == (4, 8, 0)  # 2 items x k=2 per process
    assert not list(out.glob("rft_part*"))
