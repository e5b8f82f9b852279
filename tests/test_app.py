"""The Gradio judge (app.py) against a real server on 127.0.0.1, driven headless by gradio_client.

The app runs in-process on the offline tiny model (random weights: the tests check the
plumbing and the numbers the page shows, not which candidate wins).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import app  # noqa: E402
import mmreward  # noqa: E402
from mmreward.ui import judge  # noqa: E402

DATA = judge.shared_data_dir(REPO)
needs_data = pytest.mark.skipif(
    DATA is None, reason=f"shared data is absent (${judge.SHARED_DATA_ENV}, else ../shared/data, "
                         "is no directory): the app tests judge the real photos and videos from it")
PHOTOS = ["extreme_ironing.jpg", "waterview.jpg"]
VIDEOS = ["example_1_A.mp4", "example_1_B.mp4"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def photo(name: str) -> str:
    return str(DATA / "images" / name)


def video(name: str) -> str:
    return str(DATA / "videos" / "videoalign-examples" / name)


@pytest.fixture(scope="module")
def rm():
    return mmreward.load("tiny")


def small_agent_config():
    """The agent's defaults decode 3 x 128 tokens: too slow for CPU tests with random weights."""
    if not judge.agent_available():
        return None
    from mmreward.agent import AgentConfig

    return AgentConfig(max_turns=2, max_new_tokens=8, candidate_frames=16, frame_max_pixels=64 * 28 * 28)


@pytest.fixture(scope="module")
def server(rm):
    demo = app.build_app(rm, "tiny", agent_config=small_agent_config())
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                ssr_mode=False, allowed_paths=demo.example_files)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server.local_url, verbose=False)


def handle(path):
    from gradio_client import handle_file

    return handle_file(str(path))


@pytest.mark.slow
def test_scoring_is_queued_with_a_concurrency_limit(server):
    assert server._queue.max_size == 32 and server._queue.default_concurrency_limit == 1
    fns = {f.api_name: f for f in server.fns.values() if f.api_name in ("score_images", "score_videos")}
    assert len(fns) == 2 and all(f.queue and f.concurrency_id == "model" for f in fns.values())


@needs_data
def test_image_tab_scores_the_real_photos(client, rm):
    prompt = judge.IMAGE_PROMPTS["extreme_ironing.jpg"]
    page, raw = client.predict(handle(photo(PHOTOS[0])), handle(photo(PHOTOS[1])), prompt, "",
                               api_name="/score_images")
    assert raw["names"] == PHOTOS
    assert len(raw["rewards"]) == 2 and raw["preferred"] == max((0, 1), key=lambda i: raw["rewards"][i])
    # the page shows both candidates with their rewards, and the rewards are the library's
    expected = rm.score([{"id": "x", "prompt": prompt,
                          "candidates": [{"images": [PHOTOS[0]]}, {"images": [PHOTOS[1]]}]}],
                        media_root=DATA / "images")[0]["rewards"]
    assert raw["rewards"] == pytest.approx(expected, abs=1e-5)
    for name, reward in zip(PHOTOS, raw["rewards"]):
        assert name in page and app.fmt(reward) in page
    assert "Preferred: image " + "AB"[raw["preferred"]] in page


@pytest.mark.slow
@needs_data
def test_video_tab_scores_the_real_videos(client):
    page, raw, agent_md, frames = client.predict(
        handle(video(VIDEOS[0])), handle(video(VIDEOS[1])),
        "A girl in a pink dress walks to a chair and sits down.", "motion quality", False,
        api_name="/score_videos")
    assert "error" not in raw, raw.get("error")
    assert raw["names"] == VIDEOS and len(raw["rewards"]) == 2
    for name, reward in zip(VIDEOS, raw["rewards"]):
        assert name in page and app.fmt(reward) in page
    assert "agent" not in raw and not frames


def corrupt_files(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a PNG, just text with a .png name")
    truncated = tmp_path / "truncated.jpg"
    if DATA is not None:  # a real photo cut in half
        data = Path(photo(PHOTOS[0])).read_bytes()
        truncated.write_bytes(data[: len(data) // 2])
    else:
        truncated.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    return broken, truncated


def good_image(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)
    return path


def assert_readable_error(page, raw, *fragments):
    assert "error" in raw and "rewards" not in raw
    assert "Cannot judge this pair" in page
    assert "Traceback" not in page and "File \"" not in page and "/tmp/" not in raw["error"]
    for fragment in fragments:
        assert fragment in raw["error"], raw["error"]


def test_uploads_reach_the_one_image_loader_unconverted(client, rm, tmp_path):
    """The app scores the uploaded files themselves (preprocess=False: vision.images decodes
    them), not Gradio's RGB conversion of them (alpha to black, 16-bit clipped to white)."""
    import numpy as np
    from PIL import Image

    clear, deep = tmp_path / "clear.png", tmp_path / "deep.png"
    Image.new("RGBA", (64, 48), (0, 0, 0, 0)).save(clear)
    Image.fromarray(np.full((48, 64), 30000, np.uint16)).save(deep)
    page, raw = client.predict(handle(clear), handle(deep), "a grey square", "", api_name="/score_images")
    expected = rm.score([{"id": "x", "prompt": "a grey square",
                          "candidates": [{"images": ["clear.png"]}, {"images": ["deep.png"]}]}],
                        media_root=tmp_path)[0]["rewards"]
    assert raw["rewards"] == pytest.approx(expected, abs=1e-5)


def test_corrupt_image_uploads_get_a_readable_error(client, tmp_path):
    broken, truncated = corrupt_files(tmp_path)
    good = good_image(tmp_path)
    page, raw = client.predict(handle(broken), handle(good), "a red square", "", api_name="/score_images")
    assert_readable_error(page, raw, "image A", "broken.png", "not a readable image")
    page, raw = client.predict(handle(good), handle(truncated), "a red square", "", api_name="/score_images")
    assert_readable_error(page, raw, "image B", "truncated.jpg")


def test_non_video_upload_gets_a_readable_error(client, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    other = good_image(tmp_path)
    page, raw, _, _ = client.predict(handle(text), handle(other), "a ball rolls", "", False,
                                     api_name="/score_videos")
    assert_readable_error(page, raw, "video A", "notes.txt")


def test_missing_input_gets_a_readable_error(client, tmp_path):
    good = good_image(tmp_path)
    page, raw = client.predict(handle(good), None, "a red square", "", api_name="/score_images")
    assert_readable_error(page, raw, "please provide both images", "image B")
    page, raw = client.predict(handle(good), handle(good), "   ", "", api_name="/score_images")
    assert_readable_error(page, raw, "please type a prompt")
    page, raw, _, _ = client.predict(None, None, "a ball rolls", "", False, api_name="/score_videos")
    assert_readable_error(page, raw, "please provide both videos")


SCRIPT = ['I will look closer. <recommend answer>TA = 0, MQ = 0, VQ = 0, OA = 0</recommend answer>'
          '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [3, 7, 19, 23]}}</tool_call>',
          "<final answer>TA = 1, MQ = 0, VQ = 2, OA = 1</final answer>"]  # frames 3, 7 of each (1..32)
needs_agent = pytest.mark.skipif(not judge.agent_available(),
                                 reason="mmreward.agent is not installed: the app hides the agent checkbox")


@pytest.mark.slow
@needs_data
@needs_agent
def test_video_tab_runs_the_agent(client):
    """The real agent on the random tiny model: it rarely calls the tool, but its turns come back."""
    page, raw, agent_md, frames = client.predict(
        handle(video(VIDEOS[0])), handle(video(VIDEOS[1])), "A girl sits down on a chair.", "", True,
        api_name="/score_videos")
    assert "rewards" in raw and "agent" in raw
    assert "error" not in raw["agent"], raw["agent"]["error"]
    assert [role for role, _ in raw["agent"]["turns"]][:2] == ["user", "assistant"]
    assert "Agent's judgments" in str(agent_md)


@pytest.mark.slow
@needs_data
@needs_agent
def test_video_tab_shows_the_frames_the_agent_selected(client, monkeypatch):
    """A scripted agent (teacher-forced through the real loop) selects frames 3 and 7 and answers."""
    import mmreward.agent

    real = mmreward.agent.rollout
    monkeypatch.setattr(mmreward.agent, "rollout", lambda *a, **k: real(*a, script=SCRIPT, **k))
    page, raw, agent_md, frames = client.predict(
        handle(video(VIDEOS[0])), handle(video(VIDEOS[1])), "A girl sits down on a chair.", "", True,
        api_name="/score_videos")
    trace = raw["agent"]
    assert trace["judgments"] == {"TA": "A", "VQ": "B", "MQ": "tie", "OA": "A"} and trace["format_valid"]
    captions = [f["caption"] if isinstance(f, dict) else f[1] for f in frames]
    assert captions == ["video A, frame 3/16", "video A, frame 7/16", "video B, frame 3/16 (#19)",
                        "video B, frame 7/16 (#23)"]
    assert trace["frames"] == captions
    assert "TA: A, VQ: B, MQ: tie, OA: A" in str(agent_md) and "select_frames" in str(agent_md)


def test_agent_controls_are_hidden_without_the_agent_module(monkeypatch, rm):
    import gradio as gr

    monkeypatch.setattr(judge, "agent_available", lambda: False)
    demo = app.build_app(rm, "tiny")
    boxes = [b for b in demo.blocks.values() if isinstance(b, gr.Checkbox)]
    assert len(boxes) == 1 and boxes[0].visible is False


@pytest.mark.slow
def test_generative_mode_shows_the_yes_probability(tmp_path):
    gen = mmreward.load("tiny", mode="generative")
    good = good_image(tmp_path)
    result = judge.judge_pair(gen, "images", [str(good), str(good)], "a red square", "colour accuracy")
    assert "error" not in result, result.get("error")
    page = app.result_markdown(result, gen, "images")
    assert "| P(yes) |" in page and app.fmt(result["p_yes"][0]) in page
    assert 0.0 <= result["p_yes"][0] <= 1.0 and "is A better than B?" in page


@pytest.mark.slow
def test_rationales_are_shown_escaped(tmp_path):
    gen = mmreward.load("tiny", mode="generative", rationale_tokens=4)
    good = good_image(tmp_path)
    result = judge.judge_pair(gen, "images", [str(good), str(good)], "a red square")
    assert "error" not in result, result.get("error")
    assert len(result["rationales"]) == 2
    page = app.result_markdown({**result, "rationales": ["<script>x</script> | ok", ""]}, gen, "images")
    assert "**Rationale (A vs B):** &lt;script&gt;x&lt;/script&gt; \\| ok" in page
    assert "**Rationale (B vs A):** (empty)" in page and "<script>" not in page


def test_per_dimension_scores_are_shown():
    from types import SimpleNamespace

    result = {"rewards": [0.25, -1.5], "preferred": 0, "names": ["a|b.png", "<b>.png"],
              "dimensions": {"VQ": [0.125, 0.5], "MQ": [-0.75, 1.0], "TA": [2.0, -2.0]}}
    page = app.result_markdown(result, SimpleNamespace(mode="scalar"), "images")
    assert "Preferred: image A" in page and "<b>" not in page and "a\\|b.png" in page
    for row in ("| reward | 0.2500 | -1.5000 |", "| VQ | 0.1250 | 0.5000 |", "| MQ | -0.7500 | 1.0000 |",
                "| TA | 2.0000 | -2.0000 |"):
        assert row in page


def test_examples_come_from_shared_data_and_are_optional(monkeypatch, tmp_path, rm):
    if DATA is not None:
        rows = judge.image_examples(DATA)
        assert {Path(r[0]).name for r in rows} == set(PHOTOS) and all(r[2] for r in rows)
        videos, labels = judge.video_examples(DATA)
        assert len(videos) == 3 and all(Path(p).is_file() for r in videos for p in r[:2])
        assert "humans: VQ: B, MQ: B, TA: A" in labels[0]
    monkeypatch.setenv(judge.SHARED_DATA_ENV, str(tmp_path / "nowhere"))
    assert judge.shared_data_dir(REPO) is None
    assert judge.image_examples(None) == [] and judge.video_examples(None) == ([], [])
    demo = app.build_app(rm, "tiny")  # builds without examples, no crash
    assert demo.example_files == []


def test_cli_defaults_leave_host_and_port_to_gradio():
    model, _, cfg = app.parse_args([])
    assert model.model == "tiny" and cfg.host is None and cfg.port is None and model.mode is None
    model, _, cfg = app.parse_args(["--model", "some/dir", "--mode", "generative", "--host", "0.0.0.0", "--port", "9"])
    assert (model.model, model.mode, cfg.host, cfg.port) == ("some/dir", "generative", "0.0.0.0", 9)


@pytest.mark.slow
def test_cli_starts_on_tiny_and_honours_gradio_server_env(tmp_path):
    """`python app.py` with no flags listens where GRADIO_SERVER_NAME/PORT say and tells the user
    the tiny model's scores are noise."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py")], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as resp:
                    body = resp.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert body is not None, (tmp_path / "app.log").read_text()[-3000:]
        assert "random weights" in body and "scores are noise" in body
        config = json.loads(body)
        assert config["enable_queue"] is True
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
