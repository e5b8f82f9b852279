"""The OCR text-rendering reward on the real PP-OCRv4 weights of the rapidocr-onnxruntime wheel."""
from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw, ImageFont

import mmreward
from mmreward.errors import RecordError
from mmreward.rewards.ocr import edit_distance, target_text, text_reward


def render(text: str, size=(480, 160), font_size=44) -> Image.Image:
    im = Image.new("RGB", size, (245, 240, 225))
    ImageDraw.Draw(im).text((24, size[1] // 2 - font_size // 2), text, fill=(15, 15, 15),
                            font=ImageFont.load_default(size=font_size))  # PIL's bundled scalable font
    return im


@pytest.fixture(scope="module")
def ocr():
    return mmreward.load("ocr", threads=1)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    render("OPEN LATE").save(root / "right.png")
    render("OPEN LAET").save(root / "typo.png")
    render("CLOSED").save(root / "wrong.png")
    Image.new("RGB", (320, 320), (250, 250, 250)).save(root / "blank.png")
    Image.new("RGB", (4, 1500), (0, 0, 0)).save(root / "sliver.png")  # the OCR's resize step refuses it
    return root


def test_flow_grpo_formula():
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3 and edit_distance("ab", "ab") == 0
    assert text_reward("Open Late", "OPEN LATE") == 1.0  # spaces and case are ignored
    assert text_reward("Open Late", "Welcome! open late tonight") == 1.0  # the target inside the read text
    assert text_reward("Open Late", "openlaet") == pytest.approx(1 - 2 / 8)  # a swap is two edits
    assert text_reward("Open Late", "") == 0.0
    assert text_reward("Open Late", "x" * 40) == 0.0  # distance capped at len(target)


def test_target_text_is_the_first_quoted_span_or_the_field():
    assert target_text({}, 'a neon sign that says "Open Late" above a "Bar"') == "Open Late"
    assert target_text({}, "a poster reading “Grand Opening”") == "Grand Opening"
    assert target_text({"target_text": "EXIT"}, 'a sign "ignored"') == "EXIT"
    with pytest.raises(RecordError, match="double quotes in the prompt .* or in a 'target_text' field"):
        target_text({}, "a neon sign above a bar")
    with pytest.raises(RecordError, match="quoted text in the prompt is empty"):
        target_text({}, 'a sign that says " "')
    with pytest.raises(RecordError, match="'target_text' must be a non-empty string"):
        target_text({"target_text": 3}, 'a "sign"')


def test_real_ocr_ranks_renderings_and_gives_zero_to_unreadable_images(ocr, media):
    prompt = 'a shop window with the words "Open Late"'
    records = [
        {"id": "r", "prompt": prompt, "candidates": [{"images": [f]} for f in
                                                     ("right.png", "typo.png", "wrong.png", "blank.png", "sliver.png")]},
        {"id": "no-quotes", "prompt": "a shop window at night", "candidates": [{"images": ["right.png"]}]},
        {"id": "field", "prompt": "a shop window at night", "target_text": "closed",
         "candidates": [{"images": ["wrong.png"]}, {"images": ["right.png"]}]},
    ]
    out = ocr.score(records, media_root=media, batch_size=4)
    right, typo, wrong, blank, sliver = out[0]["rewards"]
    assert out[0]["ocr_text"][0].replace(" ", "").upper() == "OPENLATE" and right == 1.0
    assert right > typo > wrong and typo == pytest.approx(0.75)  # "OPENLAET": two edits of eight letters
    assert (blank, sliver) == (0.0, 0.0) and out[0]["ocr_text"][3:] == ["", ""]
    assert out[0]["preferred"] == 0
    assert out[1] == {"id": "no-quotes", "error": "the OCR reward needs the text to render: put it in double "
                      "quotes in the prompt (a sign that says \"OPEN\") or in a 'target_text' field"}
    assert out[2]["rewards"] == [1.0, 0.0]


@pytest.mark.parametrize("rec_batch_size", [1, 4])
def test_batched_reading_matches_the_library_per_image(ocr, media, rec_batch_size):
    """The crops of several images recognised together give the library's per-image reading.
    Several crops per recogniser pass are padded to the widest, which may move a space
    ("OPEN LATE" vs "OPENLATE"); the text the reward compares is the same."""
    from mmreward.rewards.ocr import normalize
    from vision.ocr import OcrEngine, OcrOptions

    engine = ocr.engine if rec_batch_size == 1 else OcrEngine(OcrOptions(threads=1, rec_batch_size=rec_batch_size))
    images = [Image.open(media / f).convert("RGB") for f in ("right.png", "typo.png", "wrong.png", "blank.png")]
    images.append(render("Spring Sale 2025", size=(640, 200), font_size=56))
    batched = ["".join(t for t, _ in lines) for lines in engine.read(images)]
    single = ["".join(t for t, _ in engine.read_single(im)) for im in images]
    assert [normalize(t) for t in batched] == [normalize(t) for t in single]
    assert [normalize(t) for t in batched] == ["openlate", "openlaet", "closed", "", "springsale2025"]


def test_score_command_runs_end_to_end_with_a_progress_bar(media, tmp_path, capsys):
    from mmreward.cli import main

    records = [{"id": i, "prompt": f'a storefront, the sign says "Open Late" ({i})',
                "candidates": [{"images": ["right.png"]}, {"images": ["wrong.png"]}]} for i in range(3)]
    records.append({"id": "bad", "prompt": "no text asked for", "candidates": [{"images": ["right.png"]}]})
    src = tmp_path / "gen.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    dst = tmp_path / "scores.jsonl"
    rc = main(["score", "--model", "ocr", "--input", str(src), "--output", str(dst), "--media-root", str(media),
               "--batch-size", "4"])
    assert rc == 0
    lines = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [line["id"] for line in lines] == [0, 1, 2, "bad"]
    expected = [1.0, text_reward("Open Late", "CLOSED")]  # 7 edits of 8 letters: 0.125
    assert all(line["rewards"] == expected and line["ocr_text"] == ["OPEN LATE", "CLOSED"] for line in lines[:3])
    assert "needs the text to render" in lines[3]["error"]
    err = capsys.readouterr().err
    assert "scoring: 100%" in err and "4/4" in err and "4 lines, 1 errors" in err


def test_the_app_judges_two_renderings(ocr, media):
    from mmreward.ui.judge import judge_pair

    out = judge_pair(ocr, "images", [str(media / "typo.png"), str(media / "right.png")],
                     'a neon sign "Open Late"')
    assert out["rewards"] == [pytest.approx(0.75), 1.0] and out["preferred"] == 1
    assert "needs the text to render" in judge_pair(ocr, "images", [str(media / "right.png")] * 2, "a sign")["error"]


def test_a_missing_ocr_extra_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    import sys

    from mmreward.cli import main

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # what an absent package looks like
    (tmp_path / "in.jsonl").write_text('{"id": 1, "prompt": "\\"A\\"", "candidates": [{"images": ["a.png"]}]}\n')
    rc = main(["score", "--model", "ocr", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("mmreward score: rapidocr_onnxruntime is needed for the OCR reward")
    assert "pip install 'mmreward[ocr]'" in err[0]


def test_images_in_memory_and_media_limits(ocr, monkeypatch):
    """Records built in memory (an RL loop's rollouts) are scored without files; the media limits
    of `mmreward.load` reach the reward's decoding."""
    import numpy as np

    record = {"id": "mem", "prompt": 'a poster that says "Open Late"',
              "candidates": [{"images": [render("OPEN LATE")]}, {"images": [np.asarray(render("CLOSED"))]}]}
    assert ocr.score([record])[0]["rewards"] == [1.0, text_reward("Open Late", "CLOSED")]
    small = mmreward.load("ocr", threads=1, max_image_pixels=1000)
    assert "over the cap" in small.score([record])[0]["error"]
