"""parse_tool_call, parse_answer and format_valid on good and malformed text."""
from __future__ import annotations

import pytest

from mmreward.agent.parse import ToolError, format_valid, parse_answer, parse_tool_call

DIMS = ("TA", "VQ", "MQ")


def test_tool_call_good(call):
    text = "I look closer.\n" + call([12, 16, 30])
    assert parse_tool_call(text, 32, 8) == [12, 16, 30]
    assert parse_tool_call(call([3, 3, 5])) == [3, 5]  # duplicates dropped, order kept
    assert parse_tool_call("no call here") is None


@pytest.mark.parametrize("text, needle", [
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1, 2]</tool_call>', "not valid JSON"),
    ('<tool_call>{"name": "zoom", "arguments": {"target_frames": [1]}}</tool_call>', "unknown tool 'zoom'"),
    ('<tool_call>{"name": "select_frames", "arguments": {"frames": [1]}}</tool_call>', "target_frames"),
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": []}}</tool_call>', "non-empty"),
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": ["4"]}}</tool_call>', "whole numbers"),
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": [true]}}</tool_call>', "whole numbers"),
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1]}}', "not closed"),
    ('<tool_call>[1, 2]</tool_call>', "unknown tool"),
])
def test_tool_call_malformed(text, needle):
    err = parse_tool_call(text, 32, 8)
    assert isinstance(err, ToolError) and needle in err.message


def test_tool_call_limits(call):
    assert "1..32" in parse_tool_call(call([0, 5]), 32, 8).message
    assert "[33]" in parse_tool_call(call([5, 33]), 32, 8).message
    assert "at most 8" in parse_tool_call(call(list(range(1, 10))), 32, 8).message
    assert "one tool call" in parse_tool_call(call([1]) + call([2]), 32, 8).message
    assert parse_tool_call(call([40])) == [40]  # no bounds given: no range check


def test_answer_good():
    assert parse_answer("<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>", DIMS) == \
        {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1}
    # order free, case-insensitive keys, the last answer counts
    assert parse_answer("<answer>oa:0; mq: 2\nVQ:0, ta: 1</answer>", DIMS) == {"TA": 1, "VQ": 0, "MQ": 2, "OA": 0}
    assert parse_answer("<answer>TA: 2, OA: 2</answer> <answer>TA: 1, OA: 1</answer>", ("TA",)) == \
        {"TA": 1, "OA": 1}


@pytest.mark.parametrize("text", [
    "TA: 1, VQ: 2, MQ: 1, OA: 1",  # no tags
    "<answer>TA: 1, VQ: 2, MQ: 1</answer>",  # OA missing
    "<answer>TA: 1, VQ: 2, MQ: 3, OA: 1</answer>",  # 3 is not a choice
    "<answer>TA: 1, TA: 2, VQ: 2, MQ: 1, OA: 1</answer>",  # duplicate
    "<answer>TA: 1, VQ: 2, MQ: 1, OA: 1, XX: 1</answer>",  # unknown key
    "<answer>TA: video 1, VQ: 2, MQ: 1, OA: 1</answer>",  # not a number
])
def test_answer_malformed(text):
    assert parse_answer(text, DIMS) is None


def test_format_valid(call):
    good = "Frame 9 flashes.\n<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>"
    assert format_valid(good, DIMS)
    assert not format_valid(good + " more words", DIMS)
    assert not format_valid(good + call([1]), DIMS)
    assert not format_valid(good + "<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>", DIMS)
    assert not format_valid("<answer>TA: 1</answer>", DIMS)
