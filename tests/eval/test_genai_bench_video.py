"""GenAI-Bench video: the 18 judges' raw responses in shared/data, parsed by our parser,
must give the official `correct` flags and the published video accuracies."""
import json
import random

import pytest

from evalhelpers import reference_bookkeeping, BENCH, needs, write_jsonl
from eval.benchmarks import genai_bench_video as g
from eval.errors import DataError
from eval.metrics import compute
from eval.predictions import read_predictions
from eval.ties import accuracy_with_ties, accuracy_without_ties

DIR = BENCH / "genai-bench-video"
# GenAI-Bench's genaibench_results.txt (video generation column, %); the other judges
# are "TBD" there and are checked against the files' own `correct` flags only
PUBLISHED = {"random": 25.1637, "blip2": 16.9317, "idefics1": 0.1871, "idefics2": 16.464,
             "instructblip": 3.7418, "kosmos2": 0.0, "llava": 30.4022, "llavanext": 21.7025,
             "mantis-8b-idefics2": 0.0, "mantis-8b-idefics2_8192": 0.0, "otterimage": 0.0,
             "ottervideo": 0.0, "qwenVL": 2.1515}
JUDGES = sorted(p.stem for p in DIR.glob("*.jsonl")) if DIR.exists() else []


@needs(DIR)
def test_all_eighteen_judges_are_there():
    assert len(JUDGES) == 18


@needs(DIR)
@pytest.mark.parametrize("judge", JUDGES)
def test_judge_accuracy_matches_official(judge, tmp_path):
    path = DIR / f"{judge}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    preds_path = write_jsonl(tmp_path / "p.jsonl", [{"row": i, "id": r["idx"], "output": r["response"]}
                                                     for i, r in enumerate(rows)])
    items = g.load(path)
    out = compute(g.NAME, items, read_predictions(preds_path))
    official = sum(r["correct"] for r in rows) / len(rows)
    assert out["all/accuracy"] == pytest.approx(official, abs=1e-12)
    assert out["all/n"] == len(rows) and out["all/skipped"] == 0
    for item, r in zip(items, rows):  # the parsed verdict is the file's model_vote, row by row
        assert g.parse_response(r["response"]) == r["model_vote"], item.row
    if judge in PUBLISHED:
        assert round(100 * out["all/accuracy"], 4) == pytest.approx(PUBLISHED[judge], abs=1e-4)


@needs(DIR)
def test_known_judge_accuracies():
    expected = {"gpt4o": 518, "gemini-1.5-pro": 494, "llava": 325, "random": 269, "minicpm-V-2.5": 70}
    for judge, correct in expected.items():
        rows = [json.loads(x) for x in (DIR / f"{judge}.jsonl").read_text().splitlines()]
        hits = sum(g.parse_response(r["response"]) in g.VOTES[r["human_vote"]][1] for r in rows)
        assert hits == correct, judge


@needs(DIR)
def test_duplicated_rows_in_otterimage_are_separate_items():
    items = g.load(DIR / "otterimage.jsonl")
    assert len(items) == 2138 and items[0].id == items[1069].id == 0


def test_parse_response_first_match_greedy_on_its_line():
    assert g.parse_response("x [[A>B]] then [[B>A]]\nlast [[A=B]]") == "[[A>B]] then [[B>A]]"
    assert g.parse_response("[[A>B\n]] no\n ok [[B>A]]") == "[[B>A]]"
    assert g.parse_response("Final: [[A=B=Good]]") == "[[A=B=Good]]"
    assert g.parse_response("no verdict [A>B]") is None


def _fixture(tmp_path):
    rows = [
        {"prompt": "p0", "left_video": "v/0a.mp4", "right_video": "v/0b.mp4", "vote_type": "leftvote"},
        {"prompt": "p1", "left_video": "v/1a.mp4", "right_video": "v/1b.mp4", "vote_type": "rightvote"},
        {"prompt": "p2", "left_video": "v/2a.mp4", "right_video": "v/2b.mp4", "vote_type": "tievote"},
        {"prompt": "p3", "left_video": "v/3a.mp4", "right_video": "v/3b.mp4", "vote_type": "bothbad"},
    ]
    return write_jsonl(tmp_path / "genai.jsonl", rows)


def test_judge_text_fixture_with_ties_and_unparseable(tmp_path):
    items = g.load(_fixture(tmp_path))
    outputs = ["... [[A>>B]]", "[[A>B]]", "tie [[A=B]]", "garbled verdict"]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "output": o} for i, o in enumerate(outputs)]))
    out = compute(g.NAME, items, preds)
    # right, wrong, right ([[A=B]] fits a tie), unparseable counts wrong: 2 of 4
    assert out["all/accuracy"] == pytest.approx(0.5)
    assert out["all/n"] == 4 and out["all/unparsed"] == 1 and out["all/skipped"] == 0  # counted, and said


def test_rewards_fixture_against_tie_functions(tmp_path):
    items = g.load(_fixture(tmp_path))
    rewards = [[1.0, 0.0], [0.2, 0.2], [0.5, 0.45], [0.0, 3.0]]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "rewards": r} for i, r in enumerate(rewards)]))
    out = compute(g.NAME, items, preds)
    h, m = [1, -1, 0, 0], [1.0, 0.0, 0.05, -3.0]
    assert out["all/accuracy_without_ties"] == pytest.approx(0.5)  # row 1 has margin 0: wrong
    assert out["all/accuracy_with_ties"] == pytest.approx(accuracy_with_ties(h, m))
    assert out["all/accuracy_with_ties"] == pytest.approx(0.5)  # eps=0.05: row 0 concordant, row 2 tied by both
    assert accuracy_without_ties(h, m) == out["all/accuracy_without_ties"]


@needs(DIR)
def test_random_rewards_on_real_votes(tmp_path):
    path = DIR / "gpt4o.jsonl"
    votes = [json.loads(x)["human_vote"] for x in path.read_text().splitlines()]
    rng = random.Random(3)
    rewards = [[rng.choice([0, 1, 2]), rng.choice([0, 1, 2])] for _ in votes]
    preds = read_predictions(write_jsonl(tmp_path / "p.jsonl", [{"row": i, "rewards": r} for i, r in enumerate(rewards)]))
    out = compute(g.NAME, g.load(path), preds)
    sign = {"leftvote": 1, "rightvote": -1, "tievote": 0, "bothbad_vote": 0}
    h = [sign[v] for v in votes]
    decided = [(s, a - b) for s, (a, b) in zip(h, rewards) if s]
    assert out["all/accuracy_without_ties"] == pytest.approx(sum(s * d > 0 for s, d in decided) / len(decided))
    margins = [a - b for a, b in rewards]
    assert out["all/accuracy_with_ties"] == pytest.approx(reference_bookkeeping(h, margins))


def test_unknown_vote_names_the_row(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "a", "vote_type": "leftvote"},
                                               {"prompt": "b", "vote_type": "maybe"}])
    with pytest.raises(DataError, match=r"row 1.*maybe"):
        g.load(path)
