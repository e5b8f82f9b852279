"""Multimodal RewardBench on a fixture in the all_data.json schema."""
import random

import pytest

from evalhelpers import write_json, write_jsonl
from eval.benchmarks import multimodal_rewardbench as mrb
from eval.errors import DataError
from eval.metrics import compute
from eval.predictions import read_predictions

ROWS = [
    {"ID": "nocaps_1", "Category": "open_generation/correctness_task", "Better": "Output1"},
    {"ID": "PAIRS_7", "Category": "safety", "Better": "Output2"},
    {"ID": "hateful_3", "Category": "safety", "Better": "Output1"},
    {"ID": "mathvista_2", "Category": "reasoning", "Better": "Output2"},
    {"ID": "emma_code_5", "Category": "reasoning", "Better": "Output1"},
    {"ID": "nocaps_1", "Category": "open_generation/correctness_task", "Better": "Output2"},  # repeated id
    {"ID": "vqa_9", "Category": "vqa", "Better": "Output1"},
    {"ID": "vqa_10", "Category": "vqa", "Better": "Output2"},
]


def _data(tmp_path):
    rows = [dict(r, Image=f"images/{i}.jpg", Text="question", Output1="one", Output2="two") for i, r in enumerate(ROWS)]
    return write_json(tmp_path / "all_data.json", rows)


def test_categories_split_like_the_official_script(tmp_path):
    items = mrb.load(_data(tmp_path))
    assert [it.meta["category"] for it in items[1:5]] == ["safety/bias", "safety/toxicity", "reasoning/math", "reasoning/coding"]
    assert [it.preferred for it in items] == [0, 1, 0, 1, 0, 1, 0, 1]


def test_judge_text_with_seeded_random_fallback(tmp_path):
    items = mrb.load(_data(tmp_path))
    outputs = ["[[A]]", "[[B]]", "[[A]] or [[B]]", "no verdict", "[[B]]", "[[C]]", "garbage", "[[B]]"]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "output": o} for i, o in enumerate(outputs)]))
    out = compute(mrb.NAME, items, preds)
    # independent replay of the official extract_judgment: one generator seeded 123, drawn per unparsed line
    rng = random.Random(123)
    labels = ["A" if r["Better"] == "Output1" else "B" for r in ROWS]
    hits = []
    for text, label in zip(outputs, labels):
        pred = "A" if "[[A]]" in text else "B" if "[[B]]" in text else ("A" if rng.random() < 0.5 else "B")
        hits.append(pred == label)
    assert out["all/accuracy"] == pytest.approx(sum(hits) / len(hits))
    assert out["safety/bias/accuracy"] == float(hits[1])
    assert out["vqa/accuracy"] == pytest.approx((hits[6] + hits[7]) / 2)
    assert out["all/n"] == 8 and out["all/unparsed"] == 3 and out["all/skipped"] == 0  # coin-flipped, and said


def test_rewards_ties_are_wrong(tmp_path):
    items = mrb.load(_data(tmp_path))
    rewards = [[1, 0], [0, 1], [1, 1], [1, 0], [3, -1], [0, 2], [5, 5], [0, 1]]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "rewards": r} for i, r in enumerate(rewards)]))
    out = compute(mrb.NAME, items, preds)
    assert out["all/accuracy"] == pytest.approx(5 / 8)
    assert out["open_generation/correctness_task/accuracy"] == 1.0
    assert out["safety/toxicity/accuracy"] == 0.0 and out["reasoning/math/accuracy"] == 0.0
    assert out["vqa/accuracy"] == 0.5


def test_bad_label_names_the_row(tmp_path):
    rows = [dict(ID="x1", Image="a.jpg", Text="t", Output1="a", Output2="b", Better="Output3", Category="vqa")]
    with pytest.raises(DataError, match=r"row 0 \(id 'x1'\).*Better"):
        mrb.load(write_json(tmp_path / "d.json", rows))
