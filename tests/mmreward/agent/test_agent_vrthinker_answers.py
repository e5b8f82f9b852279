"""The tolerant VR-Thinker answer reader: the tag and spacing variants of the cards, the paper and the
authors' code, the <recommend answer> fallback."""
from __future__ import annotations

import pytest

from mmreward.agent.vrthinker.answers import labels_text, read_answer

ALL_ONE = {"TA": 1, "VQ": 1, "MQ": 1, "OA": 1}


@pytest.mark.parametrize("text, labels", [
    ("<Answer>TA=1, VQ=1, MQ=0, OA=1</Answer>", {"TA": 1, "VQ": 1, "MQ": 0, "OA": 1}),
    ("<final answer>TA = 1, MQ = 1, VQ = 1, OA = 1</final answer>", ALL_ONE),
    ("<answer>TA: 2, VQ: 2, MQ: 1, OA: 2</answer>", {"TA": 2, "VQ": 2, "MQ": 1, "OA": 2}),
    ("<FINAL ANSWER>\nta=2,\nmq =0 ,vq= 1, oa = 2\n</FINAL ANSWER>", {"TA": 2, "MQ": 0, "VQ": 1, "OA": 2}),
    ("<final  answer>TA = 1, MQ = 1, VQ = 1, OA = 1", ALL_ONE),  # never closed: up to the end
    ("<answer>TA=1; VQ=1; MQ=1; OA=1; Confidence = 0.8</answer>", ALL_ONE),  # other keys are ignored
])
def test_final_tag_variants(text, labels):
    answer = read_answer("<think>the videos differ</think>\n" + text)
    assert answer.labels == labels and answer.source == "final"


def test_recommend_answer_is_the_fallback():
    call = '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [3]}}</tool_call>'
    first = read_answer(f"<recommend answer>TA = 2, MQ = 2, VQ = 0, OA = 2, confidence: low</recommend answer>{call}")
    assert first.labels == {"TA": 2, "MQ": 2, "VQ": 0, "OA": 2} and first.source == "recommend"
    older = read_answer("<recommended answer>TA = 1, MQ = 1, VQ = 1, OA = 1</recommended answer>")
    assert older.labels == ALL_ONE and older.source == "recommend"
    # a final answer anywhere wins over any inclination, the last final block over earlier ones
    both = read_answer("<final answer>TA = 2, MQ = 2, VQ = 2, OA = 2</final answer>"
                       "<recommend answer>TA = 1, MQ = 1, VQ = 1, OA = 1</recommend answer>"
                       "<answer>TA=1, VQ=1, MQ=1, OA=1</answer>")
    assert both.labels == ALL_ONE and both.source == "final"


def test_what_is_not_an_answer():
    assert read_answer("Video 1 is better.").source is None and read_answer("").labels == {}
    assert read_answer("<answer>TA = 3, OA = 12, VQ = 1</answer>").labels == {"VQ": 1}  # labels are 0, 1, 2
    incomplete = read_answer("<answer>OA = 1</answer>")
    assert incomplete.labels == {"OA": 1} and not incomplete.complete(("TA", "VQ", "MQ"))


def test_written_labels_read_back():
    labels = {"TA": 0, "VQ": 2, "MQ": 1, "OA": 2}
    for order, sep in ((("TA", "MQ", "VQ"), " = "), (("TA", "VQ", "MQ"), "=")):
        text = labels_text(labels, order, sep)
        assert text.split(", ")[-1] == f"OA{sep}2"
        assert read_answer(f"<final answer>{text}</final answer>").labels == labels
