"""The VR-Thinker preset on tiny twins of the two released repos (a Qwen2.5-VL directory, as both
ship), over the six example videos and the two photos: the hub ids, `score` with a scripted policy
and with the model, the CLI, the app and the service; every output carries the episode's trace."""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import mmreward
from mmreward.errors import ConfigError
from official_layouts import IMAGES, VIDEOS, needs_data

pytestmark = needs_data
PAIRS = [("example_1_A.mp4", "example_1_B.mp4"), ("example_2_A.mp4", "example_2_B.mp4"),
         ("example_3_A.mp4", "example_3_B.mp4")]
PHOTOS = ("waterview.jpg", "extreme_ironing.jpg")
TURN_KEYS = {"prompt_text", "frames", "assistant", "tool", "tool_frames"}


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """A media root with copies of the six example videos and the two photos (a link out of the
    root would be refused)."""
    root = tmp_path_factory.mktemp("vrthinker-media")
    for name in [n for pair in PAIRS for n in pair]:
        shutil.copyfile(VIDEOS / name, root / name)
    for name in PHOTOS:
        shutil.copyfile(IMAGES / name, root / name)
    return root


@pytest.fixture(scope="session")
def twin(tmp_path_factory) -> Path:
    """A tiny Qwen2.5-VL checkpoint directory: what both released repos are, but small."""
    from mmreward.models.tiny import tiny_path

    root = tmp_path_factory.mktemp("vr-thinker-twin")
    shutil.copytree(tiny_path(), root, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def models(twin):
    """Both variants, frames kept small for the tiny model (64x... under 16k pixels; the vrthinker
    card's square side 112 instead of 448), 4 new tokens a turn."""
    small = dict(device="cpu", dtype="float32", max_new_tokens=4)
    return {"vr-thinker": mmreward.load(str(twin), preset="vr-thinker", frame_max_pixels=128 * 128, **small),
            "vrthinker": mmreward.load(str(twin), preset="vrthinker", frame_side=112, **small)}  # its variant


def records() -> list[dict]:
    out = [{"id": f"oa={oa}", "prompt": f"pair {i} oa={oa}", "candidates": [{"videos": [a]}, {"videos": [b]}]}
           for i, ((a, b), oa) in enumerate(zip(PAIRS, (1, 2, 0)))]
    out.append({"id": "photos oa=2", "prompt": "a city by the water oa=2",
                "candidates": [{"images": [PHOTOS[0]]}, {"images": [PHOTOS[1]]}]})
    return out


class Script:
    """A scripted judge: select two frames (one of each video), then answer with the OA the prompt
    names. Keeps what it was shown."""

    def __init__(self, variant: str):
        self.variant, self.shown = variant, []

    def __call__(self, messages: list[dict]) -> str:
        self.shown.append(messages)
        turn = sum(m["role"] == "assistant" for m in messages)
        first_user = next(m for m in messages if m["role"] == "user")
        oa = int(re.search(r"oa=(\d)", first_user["content"][0]["text"]).group(1))
        per = 48 if self.variant == "vr-thinker" else 128
        if turn == 0:
            body = json.dumps({"name": "select_frames", "arguments": {"target_frames": [3, per + 3]}})
            return f"<recommend answer>TA = 0, MQ = 0, VQ = 0, OA = 0</recommend answer><tool_call>{body}</tool_call>"
        if self.variant == "vr-thinker":
            return f"<final answer>TA = 1, MQ = 2, VQ = 0, OA = {oa}</final answer>"
        return f"<Answer>TA=1, VQ=0, MQ=2, OA={oa}</Answer>"


def test_hub_ids_and_directories_pick_the_preset(twin):
    from mmreward.presets import vrthinker
    from mmreward.families import expand
    from mmreward.registry import CATALOG, find_loader, preset_for

    for hub_id, preset in (("qunwang13/vr-thinker", "vr-thinker"), ("qunwang13/vrthinker", "vrthinker"),
                           ("QunWang13/VR-Thinker", "vr-thinker")):
        assert preset_for(hub_id) == preset and find_loader(hub_id) is vrthinker.load
    assert find_loader(str(twin), preset="vr-thinker") is vrthinker.load
    rows = [row for row in CATALOG if row["family"] == "vr-thinker"]
    assert expand(rows[0]["name"]) == ["qunwang13/vr-thinker", "qunwang13/vrthinker"]
    with pytest.raises(ConfigError, match="option variant must be one of vr-thinker, vrthinker"):
        mmreward.load(str(twin), preset="vr-thinker", variant="vr-thinker-2")
    with pytest.raises(ConfigError, match="does not take criteria"):
        mmreward.load(str(twin), preset="vr-thinker", criteria="sharpness")
    with pytest.raises(ConfigError, match="max_turns must be >= 1"):
        mmreward.load(str(twin), preset="vr-thinker", max_turns=0)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["vr-thinker", "vrthinker"])
def test_scripted_policy_scores_videos_and_images(models, media, variant):
    rm, script = models[variant], Script(variant)
    outs = rm.score(records(), media_root=media, policy=script)
    assert [o["id"] for o in outs] == ["oa=1", "oa=2", "oa=0", "photos oa=2"]
    assert [(o["rewards"], o["preferred"]) for o in outs] == [
        ([1.0, 0.0], 0), ([0.0, 1.0], 1), ([0.5, 0.5], None), ([0.0, 1.0], 1)]
    for out in outs:
        assert out["dimensions"] == {"TA": [1.0, 0.0], "VQ": [0.5, 0.5], "MQ": [0.0, 1.0]}
        assert out["judgments"]["TA"] == 1 and out["verdict_parsed"] == [True]
        assert out["episode"] == {"protocol": variant, "stop_reason": "answer", "answer_source": "final",
                                  "format_valid": True, "turns": 2, "tool_calls": 1, "tool_errors": []}
        (turns,) = out["trace"]
        assert [set(t) for t in turns] == [TURN_KEYS, TURN_KEYS]
        per = 48 if variant == "vr-thinker" else 128
        assert turns[0]["tool_frames"] == [{"video": 1, "frame": 3}, {"video": 2, "frame": per + 3}]
        assert turns[1]["frames"][-2:] == turns[0]["tool_frames"] and turns[1]["tool"] is None
        assert turns[0]["tool"] == "\nAfter selecting frames: Here are the selected frames"
        assert turns[1]["prompt_text"].count("<|image_pad|>") == 10
    # the policy was shown the windowed conversation with the decoded frames
    first = script.shown[0]
    images = [c["image"] for m in first for c in (m["content"] if isinstance(m["content"], list) else [])
              if c.get("type") == "image"]
    assert len(images) == 8
    if variant == "vrthinker":
        assert {im.size for im in images} == {(112, 112)}
    else:
        assert all(im.size[0] * im.size[1] <= 128 * 128 for im in images)
    # the photos: a still clip, every frame the photo
    photo = script.shown[-1]
    still = [c["image"] for m in photo if isinstance(m["content"], list) for c in m["content"]
             if c.get("type") == "image"]
    assert len({im.tobytes() for im in still[:4]}) == 1 and still[0].tobytes() != still[4].tobytes()


@pytest.mark.slow
def test_bad_records_are_error_lines(models, media):
    rm = models["vrthinker"]
    bad = [{"id": "one", "prompt": "p", "candidates": [{"images": [PHOTOS[0]]}]},
           {"id": "missing", "prompt": "p", "candidates": [{"images": [PHOTOS[0]]}, {"images": ["nope.png"]}]},
           {"id": "text", "prompt": "p", "candidates": [{"text": "a"}, {"text": "b"}]}]
    outs = rm.score(bad, media_root=media, policy=Script("vrthinker"))
    assert "two candidates" in outs[0]["error"]
    assert outs[1]["error"].startswith("candidate 1: ") and "not found" in outs[1]["error"] and outs[1]["retryable"]
    assert "not text" in outs[2]["error"]
    # an episode the model (here the policy) refuses costs its own record only
    script = Script("vrthinker")

    def refusing(messages):
        if "boom" in messages[1]["content"][0]["text"]:
            raise ValueError("cannot take this one")
        return script(messages)

    two = [{**records()[-1], "id": "boom", "prompt": "boom oa=1"}, records()[-1]]
    first, second = rm.score(two, media_root=media, policy=refusing)
    assert first == {"id": "boom", "error": "episode 0: the model refuses this input: cannot take this one"}
    assert second["id"] == "photos oa=2" and second["rewards"] == [0.0, 1.0]


@pytest.mark.slow
def test_the_model_runs_episodes_end_to_end(models, media):
    for variant, rm in models.items():
        outs = rm.score(records()[:1] + records()[-1:], media_root=media)
        for out in outs:
            (turns,) = out["trace"]
            assert out["rewards"] == [0.5, 0.5] and out["preferred"] is None  # random weights: no verdict
            assert out["verdict_parsed"] == [False] and out["episode"]["protocol"] == variant
            assert turns[0]["prompt_text"].startswith("<|im_start|>system\n")
            assert turns[0]["prompt_text"].endswith("<|im_start|>assistant\n")
            assert len(turns[0]["frames"]) == 8 and turns[0]["assistant"] == out["judge_text"][0]


@pytest.mark.slow
def test_score_command_writes_traces(twin, media, tmp_path):
    from mmreward.cli import main

    (tmp_path / "in.jsonl").write_text("\n".join(json.dumps(r) for r in records()[2:]) + "\n")
    rc = main(["score", "--model", str(twin), "--preset", "vr-thinker", "--model-option", "variant=vrthinker",
               "max_new_tokens=3", "--device", "cpu", "--input", str(tmp_path / "in.jsonl"),
               "--output", str(tmp_path / "out.jsonl"), "--media-root", str(media)])
    assert rc == 0
    outs = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in outs] == ["oa=0", "photos oa=2"]
    for out in outs:
        assert out["episode"]["protocol"] == "vrthinker" and len(out["trace"][0]) >= 1
        assert "Task Description:\nYour task is to compare two videos" in out["trace"][0][0]["prompt_text"]


@pytest.mark.slow
def test_app_shows_the_episode(models, media):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    import app
    from mmreward.ui import judge

    rm = models["vr-thinker"]
    result = judge.judge_pair(rm, "videos", [str(media / n) for n in PAIRS[2]], "an astronaut runs on the moon")
    assert "error" not in result, result
    assert len(result["trace"][0]) >= 1 and result["episode"]["protocol"] == "vr-thinker"
    page = app.result_markdown(result, rm, "videos")
    assert "**Episode** (" in page and "_Turn 1: shown frames A1, A13, A25, A37, B49, B61, B73, B85_" in page


@pytest.mark.slow
@pytest.mark.multiprocess
def test_service_returns_traces(twin, media, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))
    from serve_helpers import Server

    server = Server("--model", str(twin), "--preset", "vr-thinker", "--model-option", "variant=vrthinker",
                    "max_new_tokens=3", "--device", "cpu", "--media-root", str(media), log=tmp_path / "serve.log")
    try:
        server.wait_ready()
        answer = server.post("/v1/score", records()[2:], timeout=600)
        assert answer.status_code == 200, answer.text
        outs = answer.json()
        assert [o["id"] for o in outs] == ["oa=0", "photos oa=2"]
        assert all(o["episode"]["protocol"] == "vrthinker" and o["trace"][0][0]["frames"] for o in outs)
    finally:
        server.stop()
