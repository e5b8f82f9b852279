"""The memory window drops old tool-result images, keeps every word, touches nothing else."""
import copy

import numpy as np
import pytest
from PIL import Image

from video.memory import apply_memory_window, count_images, is_tool_result, placeholder_text


def img(v: int):
    return Image.new("RGB", (8, 8), (v, v, v))


def tool_turn(frames, with_frame_keys=False):
    content = [{"type": "text", "text": f"Frames {frames} of video 1:"}]
    for f in frames:
        item = {"type": "image", "image": img(f)}
        if with_frame_keys:
            item["frame"] = f
        content.append(item)
    content.append({"type": "text", "text": "end of tool result"})
    return {"role": "user", "tool_result": True, "frames": list(frames), "content": content}


@pytest.fixture
def chat():
    return [
        {"role": "system", "content": "You judge videos."},
        {"role": "user", "content": [{"type": "text", "text": "Initial frames:"},
                                     {"type": "image", "image": np.zeros((8, 8, 3), np.uint8)}]},
        {"role": "assistant", "content": "<tool_call>...</tool_call>"},
        tool_turn([12, 16]),
        {"role": "assistant", "content": "<tool_call>...</tool_call>"},
        tool_turn([3]),
        {"role": "assistant", "content": "<tool_call>...</tool_call>"},
        tool_turn([40, 41, 42], with_frame_keys=True),
    ]


def texts(messages):
    return [[i["text"] for i in m["content"] if i.get("type") == "text"] if isinstance(m["content"], list)
            else [m["content"]] for m in messages]


def test_window_of_one_keeps_only_the_last_tool_result_images(chat):
    before = copy.deepcopy([m.get("content") for m in chat if isinstance(m["content"], str)])
    out = apply_memory_window(chat, p=1)
    assert count_images(chat) == 7 and count_images(out) == 1 + 3  # initial frame + last tool result
    assert out[3]["content"][1] == {"type": "text",
                                    "text": "[frames 12, 16 from an earlier tool call were dropped from memory]"}
    assert out[5]["content"][1]["text"] == "[frame 3 from an earlier tool call was dropped from memory]"
    # every original text survives, in order, with the placeholder between
    for old, new in zip(texts(chat), texts(out)):
        assert [t for t in new if "dropped from memory" not in t] == old
    assert out[1] is chat[1] and out[7] is chat[7]  # untouched turns are shared
    assert [m.get("content") for m in chat if isinstance(m["content"], str)] == before


def test_input_is_not_modified(chat):
    snapshot = [(m, list(m["content"]) if isinstance(m["content"], list) else m["content"]) for m in chat]
    apply_memory_window(chat, p=0)
    for m, content in snapshot:
        assert m["content"] == content
    assert count_images(chat) == 7


@pytest.mark.parametrize("p,expected", [(0, 1), (1, 4), (2, 5), (3, 7), (10, 7)])
def test_window_width(chat, p, expected):
    assert count_images(apply_memory_window(chat, p)) == expected


def test_frame_keys_on_items_name_the_frames(chat):
    out = apply_memory_window(chat, p=0)
    assert out[7]["content"][1]["text"].startswith("[frames 40, 41, 42 ")
    assert [i["type"] for i in out[7]["content"]] == ["text", "text", "text"]


def test_only_flagged_user_turns_count_as_tool_results():
    plain = {"role": "user", "content": [{"type": "image", "image": img(1)}]}
    truthy_not_true = {"role": "user", "tool_result": "yes", "content": [{"type": "image", "image": img(2)}]}
    assistant = {"role": "assistant", "tool_result": True, "content": [{"type": "image", "image": img(3)}]}
    msgs = [plain, truthy_not_true, assistant]
    assert not any(is_tool_result(m) for m in msgs)
    assert apply_memory_window(msgs, p=0) == msgs


def test_unknown_frames_fall_back_to_a_count():
    turn = {"role": "user", "tool_result": True,
            "content": [{"type": "image", "image": img(1)}, {"type": "image", "image": img(2)}]}
    out = apply_memory_window([turn, dict(turn)], p=1)
    assert out[0]["content"] == [{"type": "text", "text": placeholder_text(None, 2)}]
    assert "2 images" in placeholder_text(None, 2)


def test_negative_window_is_an_error(chat):
    with pytest.raises(ValueError):
        apply_memory_window(chat, p=-1)


def test_a_message_can_say_what_its_images_become(chat):
    """The published VR-Thinker rollouts cut a forgotten image ("dropped_as": ""); its authors'
    training copy wrote "< No Focus >" for each one."""
    cut = [dict(m, dropped_as="") if is_tool_result(m) else m for m in chat]
    out = apply_memory_window(cut, 1)
    assert out[3]["content"] == [{"type": "text", "text": "Frames [12, 16] of video 1:"},
                                 {"type": "text", "text": "end of tool result"}]
    assert out[7] is cut[7] and count_images(out) == 1 + 3
    marked = apply_memory_window([dict(m, dropped_as="< No Focus >") if is_tool_result(m) else m for m in chat], 0)
    texts = [c["text"] for c in marked[3]["content"]]
    assert texts == ["Frames [12, 16] of video 1:", "< No Focus >", "< No Focus >", "end of tool result"]
    assert count_images(marked) == 1
