"""The released VR-Thinker protocols, checked against the cards' and the authors' own text (written
out here from the sources, not imported): prompts, constants, the tool call, the tool's user-turn
answers with 1-based frames, the error texts, the memory window, the limits."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmreward.agent.config import AgentConfig
from mmreward.agent.context import context_for_turn
from mmreward.agent.episode import Episode, scripted_trace
from mmreward.agent.frames import FrameStore, image_refs
from mmreward.agent.turns import turn_records

# qunwang13/vr-thinker, Quick Start: the start of prompt_text with the card's own dimension slots
VR_THINKER_CARD = (
    "Task Description: Your task is to compare two videos generated based on the same prompt by analyzing their "
    "frames in detail and provide an overall judgment along with a judgment for each dimension.\nThis involves:\n"
    "- Iterative reasoning,\n- Zooming in on details,\n- Dynamically selecting frames for further analysis.\n\n"
    "The provided frames are downsampled from these videos:\n- Video 1: First four input frames.\n"
    "- Video 2: Next four input frames.\n\nThe prompt is: A cinematic shot of a waterfall in a lush forest.\n\n"
    "Evaluation Dimensions:\n"
    "1. **Temporal Alignment (TA)**: How well the video adheres to the temporal aspects of the prompt.\n"
    "2. **Video Quality (VQ)**: The visual and aesthetic quality of the video.\n"
    "3. **Motion Quality (MQ)**: The smoothness and realism of the motion in the video.\n\nFrames and")
# qunwang13/vrthinker, infer.py: the start of SYSTEM_PROMPT
VRTHINKER_CARD = (
    "Task Description:\nYour task is to compare two videos generated based on the same text prompt by analyzing "
    "their frames in detail and provide an overall judgment along with a judgment for each evaluation "
    "dimension.\n\nThe provided frames are downsampled from these videos:\n- Video 1: First four input frames.\n"
    "- Video 2: Next four input frames.\n\nEvaluation Dimensions:\n"
    "1. Text Alignment (TA): How faithfully each video reflects the text prompt.\n"
    "2. Visual Quality (VQ): Aesthetics, artifacts, blurriness, distortion, color, resolution, flickering.\n"
    "3. Motion Quality (MQ): Smoothness, jitter, unnatural motion, temporal consistency.\n"
    "4. Overall Assessment (OA): Holistic judgment across the above.")
# VideoSearch-Reasoner experience_maker.py: SelectFrames through qwen-agent's NousFnCallPrompt
TOOL_SYSTEM = (
    'You are a helpful assistant.\n\n# Tools\n\nYou may call one or more functions to assist with the user query.'
    '\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n'
    '{"type": "function", "function": {"name": "select_frames", "description": "Select frames from a video.", '
    '"parameters": {"type": "object", "properties": {"target_frames": {"type": "array", "description": '
    '"List of frame indices to select from the video (no more than 8 frames in total).", "items": '
    '{"type": "integer", "description": "Frame index from 1 to 96."}}}, "required": ["target_frames"]}}}\n'
    '</tools>\n\nFor each function call, return a json object with function name and arguments within '
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}'
    '\n</tool_call>')
RESULT = "\nAfter selecting frames: Here are the selected frames"
OUT_OF_RANGE = "After selecting frames:\nThere are 96 frames numbered in range [1,96]. Your selection is out of range."
TOO_MANY = ("After selecting frames:\nYou have selected 9 frames in total. Think again which frames you need to "
            "check in details (no more than 8 frames)")
FINAL = "<final answer>TA = 1, MQ = 2, VQ = 1, OA = 1</final answer>"
JUDGED = {"TA": 1, "MQ": 2, "VQ": 1, "OA": 1}


def call(frames, lead="<recommend answer>TA = 0, MQ = 0, VQ = 0, OA = 0</recommend answer>") -> str:
    body = json.dumps({"name": "select_frames", "arguments": {"target_frames": frames}})
    return f"{lead}<tool_call>{body}</tool_call>"


def text_of(message) -> str:
    return "".join(c["text"] for c in message["content"] if c.get("type") == "text")


def numbers(message) -> list[tuple[int, int, int]]:
    content = message["content"] if isinstance(message["content"], list) else []
    return [(c["video"], c["frame"], c["number"]) for c in content if c.get("type") == "image"]


def test_vr_thinker_prompts_are_the_cards_and_the_authors():
    config = AgentConfig()  # the default: the released vr-thinker's protocol
    ep = Episode("A cinematic shot of a waterfall in a lush forest.", ["a.mp4", "b.mp4"], config)
    system, user = ep.trace.messages
    assert system == {"role": "system", "content": TOOL_SYSTEM}
    assert user["role"] == "user" and user["content"][0]["text"].startswith(VR_THINKER_CARD)
    # the card's first-round lines: up to 8 frames, its own example call
    assert ('- Use the `<tool_call>` to select up to 8 additional frames. Example:\n`<tool_call>{"name": '
            '"select_frames", "arguments": {"target_frames": [12, 16, 20, 24, 60, 64, 68, 72]}}</tool_call>`'
            ) in user["content"][0]["text"]
    # the first four input frames are Video 1's, the next four Video 2's: every 12th of the 96
    assert numbers(user) == [(v, f, 48 * v + f) for v in (0, 1) for f in (1, 13, 25, 37)]
    braces = Episode("a {dim_name_1} {}", ["a", "b"], config).trace.messages[1]["content"][0]["text"]
    assert "The prompt is: a {dim_name_1} {}\n" in braces  # a prompt is put in as written


def test_vrthinker_system_prompt_is_the_cards():
    config = AgentConfig(protocol="vrthinker")
    system, user = Episode("A robot rides a unicorn.", ["a", "b"], config).trace.messages
    assert system["content"].startswith(VRTHINKER_CARD + "\n\nFrames and Analysis Rules:\n- 8 sampled frames are "
                                        "provided initially (4 per video), evenly downsampled from 128 frames per "
                                        "video. The first 4 are Video 1, the next 4 are Video 2.\n- Each video has "
                                        "128 frames")
    assert "A robot rides a unicorn." in user["content"][0]["text"]
    assert numbers(user) == [(v, f, 128 * v + f) for v in (0, 1) for f in (1, 33, 65, 97)]


def test_published_constants():
    c = AgentConfig()
    assert (c.candidate_frames * 2, c.initial_frames, c.max_frames_per_call, c.max_turns, c.memory_window,
            c.max_new_tokens, c.max_context_tokens) == (96, 4, 8, 4, 1, 2048, 12 * 1024 - 200)
    v = AgentConfig(protocol="vrthinker")  # infer.py: FRAMES_PER_VIDEO, INITIAL_PER_VIDEO, MAX_TURNS, ...
    assert (v.candidate_frames, v.initial_frames, v.max_turns, v.max_frames_per_call, v.frame_side) == \
        (128, 4, 6, 12, 448)
    with pytest.raises(ValueError, match="TA, VQ and MQ"):
        AgentConfig(dimensions=["TA", "VQ"])  # the cards' prompts name exactly these
    with pytest.raises(ValueError, match="compares 2 videos"):
        Episode("p", ["a", "b", "c"], c)


def test_a_tool_call_then_an_answer():
    trace = scripted_trace("p", ["a", "b"], [call([12, 60, 96]), FINAL], AgentConfig(), labels=JUDGED)
    answer = trace.messages[3]
    # the tool answers in a user turn: its text, then the frames asked for (1-based across the pair)
    assert answer["role"] == "user" and answer["content"][0] == {"type": "text", "text": RESULT}
    assert numbers(answer) == [(0, 12, 12), (1, 12, 60), (1, 48, 96)]
    assert trace.selected_frames == [[{"video": 0, "frame": 12, "number": 12}, {"video": 1, "frame": 12, "number": 60},
                                      {"video": 1, "frame": 48, "number": 96}]]
    assert trace.judgments == JUDGED and trace.answer_source == "final"
    assert trace.stop_reason == "answer" and trace.format_valid and trace.tool_errors == []
    # the Nous form of the call, with newlines inside the tags, is the same call
    nous = ('<recommend answer>TA = 0, MQ = 0, VQ = 0, OA = 0</recommend answer>\n<tool_call>\n'
            '{"name": "select_frames", "arguments": {"target_frames": [5]}}\n</tool_call>')
    assert numbers(scripted_trace("p", ["a", "b"], [nous, FINAL], AgentConfig()).messages[3]) == [(0, 5, 5)]


def test_the_authors_error_texts():
    trace = scripted_trace("p", ["a", "b"], [call([97]), call(list(range(1, 10))), FINAL], AgentConfig())
    assert trace.tool_errors == [OUT_OF_RANGE, TOO_MANY]
    for message, text in zip((trace.messages[3], trace.messages[5]), (OUT_OF_RANGE, TOO_MANY)):
        assert message["role"] == "user" and message["content"] == [{"type": "text", "text": text}]
    assert trace.selected_frames == []
    assert trace.judgments == JUDGED and not trace.format_valid  # right answer, refused calls
    zero = scripted_trace("p", ["a", "b"], [call([0, 3]), FINAL], AgentConfig())
    assert zero.tool_errors == [OUT_OF_RANGE]  # 0 would index the last frame in the authors' code
    # too many is checked first, as the authors' code does
    assert scripted_trace("p", ["a", "b"], [call([500] * 9), FINAL], AgentConfig()).tool_errors == [TOO_MANY]


@pytest.mark.parametrize("reply, cause", [
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1,</tool_call>', "not valid JSON"),
    ('<tool_call>{"name": "crop_image", "arguments": {"bbox_2d": [0, 0, 1, 1]}}</tool_call>', "unknown tool"),
    ('<tool_call>{"name": "select_frames", "arguments": {"target_frames": ["3"]}}</tool_call>', "whole numbers"),
    ('<tool_call>{"name": "select_frames", "arguments": {"frames": [3]}}</tool_call>', "target_frames"),
])
def test_a_call_that_cannot_run_is_an_execution_error(reply, cause):
    trace = scripted_trace("p", ["a", "b"], [reply, FINAL], AgentConfig())
    (error,) = trace.tool_errors
    assert error.startswith("After selecting frames:\nExecution error:\n") and cause in error and error.endswith("\n")


def test_the_window_keeps_only_the_latest_tool_answer():
    config = AgentConfig()
    trace = scripted_trace("p", ["a", "b"], [call([5, 53]), call([9]), call([99]), FINAL], config)
    second = context_for_turn(trace.messages, 2, config.memory_window)  # before the 3rd reply
    # the first answer's frames are gone without a trace: no placeholder, its text stays
    assert numbers(second[3]) == [] and second[3]["content"] == [{"type": "text", "text": RESULT}]
    assert numbers(second[5]) == [(0, 9, 9)] and numbers(second[1]) == numbers(trace.messages[1])
    # a refused call is a tool answer too: after it no selected frame is visible any more
    last = context_for_turn(trace.messages, 3, config.memory_window)
    assert [n for m in last[2:] for n in numbers(m)] == []
    assert trace.messages[3]["content"][1:] and numbers(trace.messages[3]) == [(0, 5, 5), (1, 5, 53)]  # kept


def test_turn_limit_and_the_recommend_fallback():
    config = AgentConfig()  # 4 replies: 3 tool calls, then the episode ends whatever the 4th says
    lean = "<recommend answer>TA = 2, MQ = 2, VQ = 2, OA = 2</recommend answer>"
    trace = scripted_trace("p", ["a", "b"], [call([1]), call([2]), call([3]), call([4], lead=lean)], config)
    assert trace.stop_reason == "max_turns" and len(trace.turns) == 4 and len(trace.selected_frames) == 3
    assert trace.messages[-1]["role"] == "assistant"  # the 4th call is not run
    assert trace.judgments == {"TA": 2, "MQ": 2, "VQ": 2, "OA": 2} and trace.answer_source == "recommend"
    assert not trace.format_valid


def test_a_reply_without_a_call_ends_the_episode_and_is_cut_after_the_call():
    config = AgentConfig()
    ep = Episode("p", ["a", "b"], config)
    assert not ep.step(call([3]) + "\nI will wait for the frames. <|im_end|>")
    assert ep.trace.turns[0].endswith("</tool_call>")  # the authors cut a reply after its first call
    assert ep.step("Video 1 looks better.")
    assert ep.trace.stop_reason == "no_call" and not ep.trace.format_valid
    # no final answer: the verdict is the last inclination stated (the tie of the first reply)
    assert ep.trace.judgments == {"TA": 0, "MQ": 0, "VQ": 0, "OA": 0} and ep.trace.answer_source == "recommend"
    bare = Episode("p", ["a", "b"], config)
    assert bare.step("Video 1 looks better.") and bare.trace.judgments is None


def test_turn_records(tiny):
    _, processor = tiny
    config = AgentConfig()
    trace = scripted_trace("a waterfall", ["a", "b"], [call([12, 60]), FINAL], config)
    first, second = turn_records(trace, config.memory_window, processor)
    assert first["prompt_text"].startswith("<|im_start|>system\nYou are a helpful assistant.\n\n# Tools")
    assert "<|im_start|>user\nTask Description: Your task is to compare two videos" in first["prompt_text"]
    assert first["prompt_text"].endswith("<|vision_end|><|im_end|>\n<|im_start|>assistant\n")
    assert first["prompt_text"].count("<|image_pad|>") == 8
    assert first["frames"] == [{"video": v + 1, "frame": 48 * v + f} for v in (0, 1) for f in (1, 13, 25, 37)]
    assert first["assistant"] == trace.turns[0] and first["tool"] == RESULT
    assert first["tool_frames"] == [{"video": 1, "frame": 12}, {"video": 2, "frame": 60}]
    assert second["frames"][-2:] == first["tool_frames"] and second["tool"] is None
    assert second["prompt_text"].startswith(first["prompt_text"][:-len("<|im_start|>assistant\n")])
    assert "After selecting frames: Here are the selected frames<|vision_start|><|image_pad|>" in second["prompt_text"]


def test_vrthinker_episode(clips):
    root, videos = clips
    config = AgentConfig(protocol="vrthinker", candidate_frames=16)
    answer = "<Answer>TA=1, VQ=1, MQ=0, OA=1</Answer>"
    trace = scripted_trace("p", videos, [call([3, 20]), call(list(range(1, 14))), call([33]), answer], config)
    assert trace.tool_errors == [
        "After selecting frames:\nYou have selected 13 frames in total. Think again which frames you need to check "
        "in details (no more than 12 frames)",
        "After selecting frames:\nThere are 32 frames numbered in range [1,32]. Your selection is out of range."]
    assert trace.judgments == {"TA": 1, "VQ": 1, "MQ": 0, "OA": 1} and trace.answer_source == "final"
    with FrameStore.for_config(videos, config, root) as store:  # IMAGE_SIDE: 448 x 448 frames
        assert {store.image(v, f).size for v, f, _ in numbers(trace.messages[3])} == {(448, 448)}
        a, b = (np.asarray(store.image(v, 3)) for v in (0, 1))
        assert a.shape == (448, 448, 3) and not np.array_equal(a, b)
    assert image_refs([trace.messages[3]]) == [(0, 3), (1, 4)]


def test_generation_stops_after_the_tool_call(tiny):
    from mmreward.agent.loop import stop_text_reached

    tok = tiny[1].tokenizer
    ids = tok.encode('<tool_call>{"name": "select_frames"}</tool_call>', add_special_tokens=False)
    assert stop_text_reached(tok, ids, "</tool_call>") and not stop_text_reached(tok, ids[:-1], "</tool_call>")
    assert not stop_text_reached(tok, ids, None)
