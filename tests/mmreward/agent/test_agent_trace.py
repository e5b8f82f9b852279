"""Trace JSON round trip and the rule rewards."""
from __future__ import annotations

import pytest

from mmreward.agent.episode import scripted_trace
from mmreward.agent.rewards import accuracy_reward, format_reward, trace_correct
from mmreward.agent.trace import Trace, read_traces, write_traces

LABELS = {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1}


def test_round_trip(tmp_path, v1_config, call):
    tr = scripted_trace("p", ["a.mp4", "b.mp4"], [call([2]), "<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>"],
                        v1_config, id="x1", labels=LABELS)
    back = Trace.from_json(tr.to_json())
    assert back == tr
    write_traces(tmp_path / "t.jsonl", [tr, tr])
    assert read_traces(tmp_path / "t.jsonl") == [tr, tr]
    with pytest.raises(ValueError, match="messages"):
        Trace.from_dict({"prompt": "p", "videos": []})


def test_accuracy_reward():
    assert accuracy_reward(dict(LABELS), LABELS) == 1.0
    assert accuracy_reward({**LABELS, "OA": 2}, LABELS) == 0.5  # dimensions right, overall wrong
    assert accuracy_reward({**LABELS, "TA": 2}, LABELS) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert accuracy_reward({**LABELS, "TA": 2}, LABELS, alpha=1.0) == 1.0
    assert accuracy_reward(None, LABELS) == 0.0
    assert accuracy_reward({"OA": 1}, LABELS) == 0.5  # missing dimensions are wrong


def test_format_reward_and_trace_correct(v1_config, call):
    good = scripted_trace("p", ["a"], ["<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>"], v1_config, labels=LABELS)
    wrong = scripted_trace("p", ["a"], ["<answer>TA: 1, VQ: 1, MQ: 1, OA: 1</answer>"], v1_config, labels=LABELS)
    bad = scripted_trace("p", ["a"], ["<answer>TA: 1</answer>"], v1_config, labels=LABELS)
    errors = scripted_trace("p", ["a"], [call([99]), "<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>"],
                            v1_config, labels=LABELS)
    assert [format_reward(t) for t in (good, wrong, bad, errors)] == [1.0, 1.0, 0.0, 0.0]
    assert [trace_correct(t) for t in (good, wrong, bad, errors)] == [True, False, False, False]
    assert trace_correct(wrong, {"TA": 1, "VQ": 1, "MQ": 1, "OA": 1})
