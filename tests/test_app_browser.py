"""The judge page in a real browser: Debian's chromium driven by Playwright (no browser download).

Uploads the two real photos into the image tab, scores them, saves a screenshot to
test-output/app_images.png and checks that both candidates and both rewards are on the page.
Needs `apt-get install -y chromium` (/usr/bin/chromium); skipped without it.
"""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = REPO / "test-output" / "app_images.png"

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.is_file(),
                                 reason="/usr/bin/chromium is missing (apt-get install -y chromium)")]

import app  # noqa: E402
import mmreward  # noqa: E402
from mmreward.ui import judge  # noqa: E402

DATA = judge.shared_data_dir(REPO)
PHOTOS = ["extreme_ironing.jpg", "waterview.jpg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    rm = mmreward.load("tiny")
    demo = app.build_app(rm, "tiny")
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                ssr_mode=False, allowed_paths=demo.example_files)
    try:
        yield rm, demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()


@pytest.mark.skipif(DATA is None, reason=f"shared data is absent (${judge.SHARED_DATA_ENV}, else "
                                         "../shared/data, is no directory): no real photos to upload")
@pytest.mark.slow
def test_image_tab_in_a_real_browser(served, page):
    rm, url = served
    photos = [DATA / "images" / name for name in PHOTOS]
    prompt = judge.IMAGE_PROMPTS[PHOTOS[0]]
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#score_images", timeout=60_000)
    assert "scores are noise" in page.inner_text("#model_banner")

    for side, photo in zip(("a", "b"), photos):
        page.locator(f"#image_{side} input[type=file]").set_input_files(str(photo))
        page.locator(f"#image_{side} img").first.wait_for(state="visible", timeout=30_000)
    page.locator("#image_prompt textarea").fill(prompt)
    page.click("#score_images")
    result = page.locator("#image_result")
    result.get_by_text("Preferred").wait_for(timeout=60_000)
    page.wait_for_timeout(300)  # let the uploaded previews finish painting

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000

    # both candidates are on screen as decoded images
    for side in "ab":
        img = page.locator(f"#image_{side} img").first
        assert img.is_visible() and img.evaluate("e => e.complete && e.naturalWidth > 0")
    # both rewards, as the library computes them for these files, are in the result's text
    expected = rm.score([{"id": "b", "prompt": prompt,
                          "candidates": [{"images": [PHOTOS[0]]}, {"images": [PHOTOS[1]]}]}],
                        media_root=DATA / "images")[0]
    text = result.inner_text()
    for name, reward in zip(PHOTOS, expected["rewards"]):
        assert name in text and app.fmt(reward) in text, text
    assert f"Preferred: image {'AB'[expected['preferred']]}" in text
