"""VL-RewardBench on the real data.jsonl and on small fixtures (judge text, parquet)."""
import json
import random
from collections import Counter

import pytest

from evalhelpers import BENCH, needs, write_jsonl
from eval.benchmarks import vl_rewardbench as vl
from eval.errors import DataError
from eval.metrics import compute
from eval.predictions import read_predictions

DATA = BENCH / "vl-rewardbench" / "data.jsonl"


@needs(DATA)
def test_real_file_groups_and_duplicated_ids():
    items = vl.load(DATA)
    assert len(items) == 1250
    assert Counter(it.meta["group"] for it in items) == {"hallucination": 749, "reasoning": 318, "general": 183}
    ids = Counter(it.id for it in items)
    assert sum(1 for c in ids.values() if c > 1) == 18  # repeated ids are distinct items
    assert all(it.images and it.images[0].startswith("images/") for it in items)
    assert sum(it.preferred for it in items) == 5  # five rows rank the second response first


@needs(DATA)
def test_random_rewards_against_independent_count(tmp_path):
    raw = [json.loads(x) for x in DATA.read_text().splitlines()]
    rng = random.Random(11)
    rewards = [[rng.choice([0.0, 0.5, 1.0]), rng.choice([0.0, 0.5, 1.0])] for _ in raw]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "id": r["id"], "rewards": w}
                                                                 for i, (r, w) in enumerate(zip(raw, rewards))]))
    out = compute(vl.NAME, vl.load(DATA), preds)

    def grp(i):  # written out again from the rule, by dataset directory as in cal.py
        d = i["image_path"].split("/")[1]
        return {"povid": "hallucination", "rlaif-v": "hallucination", "rlhf-v": "hallucination",
                "reasoning_tasks": "reasoning"}.get(d, "general")

    right = Counter()
    total = Counter()
    for r, (a, b) in zip(raw, rewards):
        best = r["human_ranking"].index(0)
        total[grp(r)] += 1
        right[grp(r)] += (a > b) if best == 0 else (b > a)
    for name in ("general", "hallucination", "reasoning"):
        assert out[f"{name}/accuracy"] == pytest.approx(right[name] / total[name])
    assert out["all/accuracy"] == pytest.approx(sum(right.values()) / 1250)
    assert out["all/macro_accuracy"] == pytest.approx(sum(right[g] / total[g] for g in total) / 3)


def test_parse_verdict():
    assert vl.parse_verdict("Overall Judgment: **Answer 2 is better**") == 1
    assert vl.parse_verdict("overall judgment\nAnswer 1 is slightly better. Answer 2 is the better") == 1
    assert vl.parse_verdict("Therefore, Answer 1 is the better one.") == 0
    assert vl.parse_verdict("Answer 1 is better.") is None  # no 'Overall Judgment' / 'Therefore' before it
    assert vl.parse_verdict("Therefore Answer 3 is better") is None
    assert vl.parse_verdict("Therefore both are fine") is None


def _fixture(tmp_path):
    rows = [
        {"id": "RLAIF-V-1", "image_path": "images/a.jpg", "query": "q", "response": ["x", "y"], "human_ranking": [0, 1]},
        {"id": "RLAIF-V-1", "image_path": "images/b.jpg", "query": "q", "response": ["y", "x"], "human_ranking": [1, 0]},
        {"id": "mathverse_3", "image_path": "images/c.jpg", "query": "q", "response": ["x", "y"], "human_ranking": [0, 1]},
        {"id": "wildvision_9", "image_path": "images/d.jpg", "query": "q", "response": ["x", "y"], "human_ranking": [0, 1]},
    ]
    return write_jsonl(tmp_path / "vl.jsonl", rows)


def test_judge_text_unparseable_items_are_not_counted(tmp_path):
    items = vl.load(_fixture(tmp_path))
    outputs = ["Overall Judgment: Answer 1 is better", "Therefore Answer 1 is better",
               "I cannot decide", "Therefore, Answer 1 is better"]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "output": o} for i, o in enumerate(outputs)]))
    out = compute(vl.NAME, items, preds)
    # hallucination: right, wrong; reasoning: unparsed (not counted); general: right
    assert out["hallucination/accuracy"] == 0.5 and out["general/accuracy"] == 1.0
    assert "reasoning/accuracy" not in out and "all/macro_accuracy" not in out
    assert out["all/accuracy"] == pytest.approx(2 / 3)
    assert out["all/n"] == 3 and out["all/skipped"] == 0 and out["all/unparsed"] == 1


def test_eval_metrics_reports_unparsed_outputs_apart_from_skipped_items_naming_rows(tmp_path, capsys):
    from eval.cli import METRICS
    from mmreward.cli import main

    data = _fixture(tmp_path)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"row": 0, "output": "I cannot decide"},
                                               {"row": 1, "error": "image missing"},
                                               {"row": 3, "output": "Therefore Answer 3 is better"}])
    assert main(["eval", "metrics", "--benchmark", vl.NAME, "--data", str(data), "--predictions", str(preds),
                 "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert (out["all/n"], out["all/skipped"], out["all/unparsed"]) == (0, 2, 2)
    assert captured.err.strip().splitlines() == [
        "note: 1 of 4 items have no prediction and are skipped (row 2)",
        "note: 1 of 4 items have an error line and are skipped (row 1)",
        "note: 2 of 2 judge outputs have no verdict the official parser reads (rows 0, 3); not counted, as the "
        "official cal.py (all/unparsed)"]
    assert "all/unparsed = judge outputs" in METRICS.epilog


def test_equal_rewards_are_wrong(tmp_path):
    items = vl.load(_fixture(tmp_path))
    rewards = [[1, 1], [0, 1], [2, 1], [0.1, 0.0]]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "rewards": r} for i, r in enumerate(rewards)]))
    out = compute(vl.NAME, items, preds)
    assert out["hallucination/accuracy"] == 0.5  # tie wrong, row 1 prefers response[1]: right
    assert out["all/macro_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert out["all/accuracy"] == pytest.approx(3 / 4)


def test_bad_ranking_names_the_row(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "image_path": "a.jpg", "query": "q",
                                                 "response": ["a", "b"], "human_ranking": [0, 0]}])
    with pytest.raises(DataError, match=r"row 0 \(id 'x'\).*human_ranking"):
        vl.load(path)


def test_image_path_must_be_a_string(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "image_path": 3, "query": "q",
                                                 "response": ["a", "b"], "human_ranking": [0, 1]}])
    with pytest.raises(DataError, match=r"row 0 \(id 'x'\): image_path must be a non-empty path"):
        vl.load(path)


def test_parquet_with_embedded_image(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({
        "id": ["RLHF-1", "mmmu_2"], "query": ["q1", "q2"], "response": [["a", "b"], ["c", "d"]],
        "image": [{"bytes": b"\x89PNG fake", "path": "one.png"}, {"bytes": b"\x89PNG two", "path": None}],
        "human_ranking": [[0, 1], [1, 0]],
    })
    pq.write_table(table, tmp_path / "vl.parquet")
    items = vl.load(tmp_path / "vl.parquet")
    assert [it.preferred for it in items] == [0, 1]
    assert items[0].images == ["embedded/000000-one.png"]
    assert items[0].embedded["embedded/000000-one.png"] == b"\x89PNG fake"
