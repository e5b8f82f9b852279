"""`mmreward agent` and `mmreward synth agent`; the agent on the real example videos."""
from __future__ import annotations

import pytest
import json

from mmreward.cli import main

SMALL = ["--max-new-tokens", "4", "--max-turns", "2", "--frame-max-pixels", str(56 * 56),
         "--candidate-frames", "16", "--device", "cpu", "--min-pixels", str(28 * 28)]


@pytest.mark.slow
def test_agent_json_on_real_example_videos(capsys, examples):
    videos = [str(examples / "example_1_A.mp4"), str(examples / "example_1_B.mp4")]
    rc = main(["agent", "--prompt", "a dog running", "--videos", *videos, "--json", *SMALL])
    assert rc == 0
    trace = json.loads(capsys.readouterr().out)
    for key in ("turns", "selected_frames", "judgments", "format_valid", "trace"):
        assert key in trace
    assert trace["protocol"] == "vr-thinker" and trace["format_valid"] is False  # random weights: noise
    assert len(trace["prefill_tokens"]) == len(trace["turns"]) == len(trace["trace"][0]) >= 1
    assert trace["videos"] == videos
    first = trace["trace"][0][0]
    assert "The provided frames are downsampled from these videos" in first["prompt_text"]
    assert [f["video"] for f in first["frames"]] == [1] * 4 + [2] * 4


@pytest.mark.slow
def test_agent_media_root_and_scripted_real_frames(tiny, examples):
    from mmreward.agent.config import AgentConfig
    from mmreward.agent.loop import rollout

    model, processor = tiny
    config = AgentConfig(candidate_frames=16, max_turns=2, max_new_tokens=4, frame_max_pixels=56 * 56)
    call = config.speaks.write_call([2, 16, 18, 32], config.dimensions)  # frames 2 and 16 of each video
    tr = rollout(model, processor, ["example_2_A.mp4", "example_2_B.mp4"], "p", config, media_root=examples,
                 script=[call, "<final answer>TA = 1, MQ = 2, VQ = 1, OA = 1</final answer>"])
    assert [(s["video"], s["frame"]) for s in tr.selected_frames[0]] == [(v, f) for v in (0, 1) for f in (2, 16)]
    assert tr.format_valid and tr.judgments["MQ"] == 2


def test_bad_video_exit_code_2(tmp_path, capsys, examples):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    rc = main(["agent", "--prompt", "x", "--videos", str(bad), str(examples / "example_1_A.mp4"), *SMALL])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.mp4" in err and "Traceback" not in err
    rc = main(["agent", "--prompt", "x", "--videos", "../example_1_A.mp4", "--media-root", str(tmp_path)])
    assert rc == 2 and "media root" in capsys.readouterr().err
    rc = main(["agent", "--prompt", "x", "--videos", str(tmp_path / "missing.mp4")])
    assert rc == 2 and "not found" in capsys.readouterr().err


def test_synth_agent_command(tmp_path, capsys):
    assert main(["synth", "agent", "--out", str(tmp_path), "--n", "2", "--seed", "3"]) == 0
    assert "wrote 2 items" in capsys.readouterr().out
    items = [json.loads(line) for line in open(tmp_path / "items.jsonl")]
    assert [len(it["videos"]) for it in items] == [2, 2]
    assert all((tmp_path / v).is_file() for it in items for v in it["videos"])
    assert len((tmp_path / "traces.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_agent_python_entry_takes_a_scripted_policy(clips):
    """`commands.agent.judge(..., policy=fn)`: fn writes the turns (no model is loaded, only the
    checkpoint's processor), the output carries the trace as the model would have seen it."""
    from mmreward.agent.config import AgentConfig
    from mmreward.commands.agent import AgentRunConfig, judge
    from mmreward.models.options import ModelOptions

    root, videos = clips
    seen = []

    def policy(messages):
        seen.append(messages)
        if len(seen) == 1:
            return ('<recommend answer>TA = 0, MQ = 0, VQ = 0, OA = 0</recommend answer><tool_call>'
                    '{"name": "select_frames", "arguments": {"target_frames": [2, 18]}}</tool_call>')
        return "<final answer>TA = 2, MQ = 2, VQ = 2, OA = 2</final answer>"

    config = AgentConfig(candidate_frames=16, frame_max_pixels=56 * 56)
    out = judge(ModelOptions(model="tiny"), config, AgentRunConfig(prompt="a ball", videos=videos,
                                                                   media_root=str(root)), policy=policy)
    assert out["judgments"] == {"TA": 2, "MQ": 2, "VQ": 2, "OA": 2} and out["format_valid"]
    (turns,) = out["trace"]
    assert [t["tool_frames"] for t in turns] == [[{"video": 1, "frame": 2}, {"video": 2, "frame": 18}], []]
    assert turns[1]["prompt_text"].count("<|image_pad|>") == 10 and len(seen) == 2
    assert sum(1 for m in seen[1] if isinstance(m["content"], list) for c in m["content"]
               if c.get("type") == "image" and c["image"].size == (56, 56)) == 10
    # a released id speaks its own card's protocol unless --protocol is given
    from mmreward.commands.agent import config_for_model

    assert config_for_model(config, "qunwang13/vrthinker").protocol == "vrthinker"
    assert config_for_model(config, "qunwang13/vrthinker").candidate_frames == 16  # what was set stays
    assert config_for_model(AgentConfig(protocol="vr-thinker"), "qunwang13/vrthinker").protocol == "vr-thinker"
