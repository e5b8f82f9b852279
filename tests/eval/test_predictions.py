"""Predictions files: keyed by row, clear errors naming the line and the cause."""
import pytest

from evalhelpers import write_jsonl
from eval.datafile import read_rows
from eval.errors import DataError
from eval.predictions import Prediction, check_against, read_predictions, to_line


def test_reads_rewards_dimensions_output_and_error(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [
        {"row": 0, "rewards": [1, 2.5]},
        {"row": 1, "rewards": {"VQ": [0, 1], "Overall": [1, 0]}},
        {"row": 2, "output": "[[A]]"},
        {"row": 3, "error": "image not found"},
    ])
    preds = read_predictions(path)
    assert preds[0].pair() == (1.0, 2.5)
    assert preds[1].pair("VQ") == (0, 1) and preds[1].pair("TA") == (1, 0)
    assert preds[2].output == "[[A]]" and preds[2].usable
    assert not preds[3].usable


@pytest.mark.parametrize("line, message", [
    ({"rewards": [1, 0]}, "'row' must be a non-negative integer"),
    ({"row": -1, "rewards": [1, 0]}, "'row' must be"),
    ({"row": 0, "rewards": [1]}, r"line 1 \(row 0\): rewards must be two numbers"),
    ({"row": 0, "rewards": [1, float("nan")]}, r"line 1: invalid JSON \(NaN is not a JSON value"),
    ({"row": 0, "rewards": ["1", 0]}, "two numbers"),
    ({"row": 0, "rewards": {"VQ": [1, 2, 3]}}, r"rewards\['VQ'\]"),
    ({"row": 0, "output": 3}, "judge text"),
    ({"row": 0}, "needs 'rewards', 'output' or 'error'"),
])
def test_bad_lines_are_named(tmp_path, line, message):
    path = write_jsonl(tmp_path / "p.jsonl", [line])
    with pytest.raises(DataError, match=message):
        read_predictions(path)


def test_duplicate_row_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"row": 0, "rewards": [1, 0]}, {"row": 1, "rewards": [1, 0]},
                                              {"row": 0, "rewards": [0, 1]}])
    with pytest.raises(DataError, match="line 3: row 0 already given on line 1"):
        read_predictions(path)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"row": 0, "rewards": [1, 0]}\n{"row": 1, "rewards": [1, \n')
    with pytest.raises(DataError, match="line 2: invalid JSON"):
        read_predictions(path)


def test_rows_and_ids_are_checked_against_the_data():
    preds = {0: Prediction(0, id="a", rewards=[1, 0]), 1: Prediction(1, id=7, rewards=[1, 0])}
    check_against(preds, ["a", 7], "p")  # ints and strings compare as text
    with pytest.raises(DataError, match="row 1: prediction id '7' does not match the data's id 'b'"):
        check_against(preds, ["a", "b"], "p")
    with pytest.raises(DataError, match="prediction for row 1, but the data has 1 rows"):
        check_against(preds, ["a"], "p")


def test_to_line_keeps_dimensions_and_overall():
    line = to_line(3, "x", {"id": "3", "rewards": [0.1, 0.2], "dimensions": {"VQ": [1, 2]}})
    assert line == {"row": 3, "id": "x", "rewards": {"VQ": [1, 2], "Overall": [0.1, 0.2]}}
    assert to_line(4, None, {"id": "4", "error": "boom"}) == {"row": 4, "error": "boom"}  # no null id


def test_data_rows_skip_blank_lines_and_name_bad_ones(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n[1]\n')
    with pytest.raises(DataError, match="row 2 is a list"):
        read_rows(path)
    path.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(DataError, match="line 2: invalid JSON"):
        read_rows(path)
    with pytest.raises(DataError, match="unknown data format"):
        read_rows(write_jsonl(tmp_path / "d.txt", []))
