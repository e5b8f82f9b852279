"""Combined rewards: the weighted sum of their parts, each part kept in `dimensions`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

import mmreward
from mmreward.errors import ConfigError, InputError


@pytest.mark.slow
def test_inline_combo_is_the_weighted_sum_of_its_parts(clip_dir, generated):
    root, records = generated
    clip_name, pick_name = f"clipscore@{clip_dir}", f"pickscore@{clip_dir}"  # a dir with its own processor
    combo = mmreward.load(f"combo:{clip_name}=2,{pick_name}=-0.25", device="cpu")
    out = combo.score(records, media_root=root, batch_size=3)
    clip = mmreward.load(clip_name, device="cpu").score(records, media_root=root, batch_size=3)
    pick = mmreward.load(pick_name, device="cpu").score(records, media_root=root, batch_size=3)
    for o, c, p in zip(out, clip, pick):
        assert o["dimensions"] == {clip_name: c["rewards"], pick_name: p["rewards"]}
        assert o["rewards"] == [2 * a - 0.25 * b for a, b in zip(c["rewards"], p["rewards"])]
        assert o["preferred"] == int(np.argmax(o["rewards"]))
    assert combo.info["kind"] == "combo" and combo.info["dimensions"] == [clip_name, pick_name]
    assert [c["weight"] for c in combo.info["components"]] == [2.0, -0.25]


@pytest.mark.slow
def test_spec_file_with_names_options_and_an_ocr_part(pickscore_dirs, tmp_path):
    """The issue's example, pickscore=1 + ocr=0.5, from a YAML spec with per-part options (the tiny
    PickScore_v1-layout model and its separate processor)."""
    model_dir, processor_dir = pickscore_dirs
    im = Image.new("RGB", (480, 160), (245, 240, 225))
    ImageDraw.Draw(im).text((24, 58), "SALE", fill=(10, 10, 10), font=ImageFont.load_default(size=44))
    im.save(tmp_path / "sale.png")
    Image.new("RGB", (480, 160), (245, 240, 225)).save(tmp_path / "empty.png")
    spec = tmp_path / "rewards.yaml"
    spec.write_text(f"components:\n"
                    f"  - {{model: 'pickscore@{model_dir}', weight: 1.0, name: pick,\n"
                    f"     options: {{processor: '{processor_dir}'}}}}\n"
                    f"  - {{model: ocr, weight: 0.5, options: {{threads: 1}}}}\n")
    combo = mmreward.load(f"combo:{spec}", device="cpu")
    records = [{"id": 1, "prompt": 'a banner that says "SALE"',
                "candidates": [{"images": ["sale.png"]}, {"images": ["empty.png"]}]},
               {"id": 2, "prompt": "a banner", "candidates": [{"images": ["sale.png"]}]}]
    out = combo.score(records, media_root=tmp_path)
    dims = out[0]["dimensions"]
    pick = mmreward.load(f"pickscore@{model_dir}", processor=str(processor_dir)).score(records[:1], tmp_path)[0]
    # The combo scored two records in one batch, `pick` one: float32 matmuls over different batch
    # shapes sum in a different order, so the rewards (100 x a cosine, ~23) agree to a few float32
    # ulps (2**-23 relative each: 23.16253089904785 vs 23.16253662109375 seen), not bit for bit.
    assert dims["ocr"] == [1.0, 0.0] and dims["pick"] == pytest.approx(pick["rewards"], rel=1e-6)
    assert out[0]["rewards"] == [a + 0.5 * b for a, b in zip(dims["pick"], dims["ocr"])]
    # one part cannot score the record: the record is an error naming that part
    assert out[1]["id"] == 2 and out[1]["error"].startswith("ocr: the OCR reward needs the text to render")


def test_json_mapping_spec_and_bad_specs(clip_dir, tmp_path, generated):
    root, records = generated
    spec = tmp_path / "c.json"
    spec.write_text(json.dumps({f"clipscore@{clip_dir}": 3}))
    single = mmreward.load(f"clipscore@{clip_dir}", device="cpu").score(records[:1], media_root=root)[0]
    out = mmreward.load(f"combo:{spec}", device="cpu").score(records[:1], media_root=root)[0]
    assert out["rewards"] == [3 * r for r in single["rewards"]]
    with pytest.raises(ConfigError, match="appear twice"):
        mmreward.load(f"combo:clipscore@{clip_dir}=1,clipscore@{clip_dir}=2")
    with pytest.raises(ConfigError, match="weight 'x' is not a number"):
        mmreward.load("combo:ocr=x")
    with pytest.raises(ConfigError, match="empty component"):
        mmreward.load("combo:ocr=1,,")
    with pytest.raises(InputError, match="not found"):
        mmreward.load(f"combo:{tmp_path / 'missing.yaml'}")
    (tmp_path / "bad.yaml").write_text("components:\n  - {model: ocr, wieght: 2}\n")
    with pytest.raises(ConfigError, match="component 0 must be a mapping with keys"):
        mmreward.load(f"combo:{tmp_path / 'bad.yaml'}")


@pytest.mark.slow
def test_a_part_may_set_its_own_mode_and_a_bad_one_is_one_configuration_error(tmp_path):
    spec = tmp_path / "modes.yaml"
    spec.write_text("components:\n  - {model: tiny, name: head, options: {mode: scalar}}\n"
                    "  - {model: tiny, name: judge, options: {mode: generative}}\n")
    combo = mmreward.load(f"combo:{spec}", mode="generative")  # the part's own mode wins over the combo's
    assert [m.info["kind"] for _, m in combo.members] == ["scalar", "generative"]
    out = combo.score([{"id": "a", "prompt": "p", "candidates": [{"text": "x"}, {"text": "y"}]}])[0]
    assert set(out["dimensions"]) == {"head", "judge"} and len(out["rewards"]) == 2
    spec.write_text("components:\n  - {model: tiny, options: {mode: scalr}}\n")
    with pytest.raises(ConfigError, match="combo component 'tiny': mode must be 'scalar' or 'generative', got 'scalr'"):
        mmreward.load(f"combo:{spec}")


def test_a_combo_file_that_contains_itself_is_one_configuration_error(tmp_path, capsys):
    from mmreward.cli import main

    own, a, b = tmp_path / "own.yaml", tmp_path / "a.yaml", tmp_path / "b.json"
    own.write_text(f"components:\n  - {{model: 'combo:{own}'}}\n")
    a.write_text(f"components:\n  - {{model: 'combo:{b}', name: inner}}\n  - {{model: ocr}}\n")
    b.write_text(json.dumps({f"combo:{tmp_path / 'sub' / '..' / 'a.yaml'}": 1}))  # back to a.yaml by another path
    (tmp_path / "sub").mkdir()
    with pytest.raises(ConfigError, match=r"names itself \(own.yaml -> own.yaml\)"):
        mmreward.load(f"combo:{own}")
    with pytest.raises(ConfigError, match=r"names itself \(a.yaml -> b.json -> a.yaml\)"):
        mmreward.load(f"combo:{a}")
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "candidates": [{"text": "x"}]}\n')
    assert main(["score", "--model", f"combo:{a}", "--input", str(inp), "--output", str(tmp_path / "o.jsonl"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mmreward score: combo spec") and "names itself" in err[0], err
