"""The environment in the "mmreward-v1" dialect: tool results, tool errors reported to the model, bounded
turns, the memory window (the published protocol: test_agent_vrthinker_protocol.py)."""
from __future__ import annotations

from mmreward.agent.context import context_for_turn, turn_examples
from mmreward.agent.episode import Episode, scripted_trace
from mmreward.agent.frames import image_refs

ANSWER = "<answer>TA: 1, VQ: 2, MQ: 1, OA: 1</answer>"


def user_text(message) -> str:
    return " ".join(c["text"] for c in message["content"] if c.get("type") == "text")


def test_first_turn_shows_initial_frames_of_every_video(v1_config):
    ep = Episode("a ball", ["a.mp4", "b.mp4"], v1_config)
    refs = image_refs(ep.trace.messages)
    assert refs == [(0, 3), (0, 7), (1, 3), (1, 7)]  # uniform 2 of 8 candidates, both videos
    assert "Video 2, frame 7/8: " in user_text(ep.trace.messages[1])


def test_tool_result_returns_frames_of_both_videos(v1_config, call):
    tr = scripted_trace("p", ["a", "b"], ["look " + call([2, 5]), ANSWER], v1_config)
    result = tr.messages[3]
    assert result["role"] == "user" and result["tool_result"] is True
    assert image_refs([result]) == [(0, 2), (0, 5), (1, 2), (1, 5)]
    assert tr.selected_frames == [[{"video": 0, "frame": 2, "number": 2}, {"video": 0, "frame": 5, "number": 5},
                                   {"video": 1, "frame": 2, "number": 2}, {"video": 1, "frame": 5, "number": 5}]]
    assert tr.format_valid and tr.judgments == {"TA": 1, "VQ": 2, "MQ": 1, "OA": 1}
    assert tr.stop_reason == "answer"


def test_tool_errors_are_reported_to_the_model(v1_config, call):
    texts = [call([9]), '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1,</tool_call>',
             ANSWER]
    tr = scripted_trace("p", ["a", "b"], texts, v1_config)
    assert len(tr.tool_errors) == 2 and "1..8" in tr.tool_errors[0] and "JSON" in tr.tool_errors[1]
    # each error comes back as the next user turn, text only, and is in the model's next context
    for turn, err in ((1, tr.tool_errors[0]), (2, tr.tool_errors[1])):
        context = context_for_turn(tr.messages, turn, v1_config.memory_window)
        assert context[-1]["role"] == "user" and err in user_text(context[-1])
        assert not image_refs([context[-1]])
    assert tr.selected_frames == []
    assert tr.judgments is not None and not tr.format_valid  # right answer, but the episode had errors


def test_too_many_frames_and_unknown_tool(v1_config, call):
    tr = scripted_trace("p", ["a"], [call([1, 2, 3, 4]), '<tool_call>{"name": "crop"}</tool_call>', ANSWER],
                        v1_config)
    assert "at most 3" in tr.tool_errors[0] and "unknown tool 'crop'" in tr.tool_errors[1]
    assert "Last turn: answer now." in user_text(tr.messages[-2])


def test_never_answering_ends_at_max_turns(v1_config, call):
    ep = Episode("p", ["a", "b"], v1_config)
    done = [ep.step(t) for t in ("hmm", call([2]), call([4]))]
    assert done == [False, False, True] and ep.turns_used == v1_config.max_turns
    tr = ep.trace
    assert tr.stop_reason == "max_turns" and tr.judgments is None and not tr.format_valid
    assert tr.messages[-1]["role"] == "assistant"  # the last call is not executed
    assert len(tr.selected_frames) == 1 and tr.tool_errors == ["no tool call or answer"]


def test_memory_window_drops_images_keeps_text(v1_config, call):
    tr = scripted_trace("p", ["a", "b"], [call([2]), call([4, 5]), ANSWER], v1_config)
    first, second = tr.messages[3], tr.messages[5]
    ctx = context_for_turn(tr.messages, 2, memory_window=1)
    assert len(ctx) == 6
    # initial frames and the latest tool result keep their images; the older one lost them
    assert image_refs([ctx[1]]) == image_refs([tr.messages[1]])
    assert image_refs([ctx[5]]) == image_refs([second]) and len(image_refs([second])) == 4
    assert image_refs([ctx[3]]) == []
    dropped = user_text(ctx[3])
    for label in ("Video 1, frame 2/8:", "Video 2, frame 2/8:"):
        assert label in dropped  # the labels stay
    assert "dropped from memory" in dropped
    assert image_refs([first]) == [(0, 2), (1, 2)]  # the trace itself is untouched
    # p = 2 keeps both; p = 0 keeps none but the initial frames
    assert image_refs(context_for_turn(tr.messages, 2, 2)) == image_refs(tr.messages[:6])
    assert image_refs(context_for_turn(tr.messages, 2, 0)) == image_refs([tr.messages[1]])


def test_turn_examples_follow_the_window(v1_config, call):
    tr = scripted_trace("p", ["a", "b"], [call([2]), call([4, 5]), ANSWER], v1_config)
    examples = turn_examples(tr.messages, 1)
    assert [a["content"] for _, a in examples] == tr.turns
    # turn 1 was written while tool result 1 was visible; turn 2 after it was dropped
    assert len(image_refs(examples[1][0])) == 4 + 2
    assert len(image_refs(examples[2][0])) == 4 + 4
