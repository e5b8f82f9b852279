"""`mmreward probe` as users run it."""
import json

import pytest

from mmreward.cli import main


@pytest.mark.slow
def test_probe_command_writes_the_report(real_media, battery_records, tmp_path, capsys):
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in battery_records[:2]) + "not json\n")
    out = tmp_path / "out"
    rc = main(["probe", "--model", "tiny", "--mode", "scalar", "--device", "cpu", "--max-pixels", str(64 * 28 * 28),
               "--data", str(data), "--media-root", str(real_media), "--out", str(out),
               "--probes", "order", "jpeg", "text", "--bootstrap", "50", "--no-progress"])
    assert rc == 0
    assert "flagged:" in capsys.readouterr().err
    report = json.loads((out / "probe.json").read_text())
    assert [r["probe"] for r in report["probes"]] == ["position_swap", "identity", "master_key_replace",
                                                      "master_key_prefix", "length_padding", "markdown_format",
                                                      "jpeg"]
    assert report["records"]["usable"] == 2 and "invalid JSON" in report["records"]["errors"][0]["error"]
    assert report["model"]["kind"] == "scalar"
    assert (out / "probe.md").is_file() and (out / "probe.png").is_file()
    assert not (out / "media").exists()  # perturbed media stay in memory


def test_probe_command_checks_its_options_before_loading_a_model(tmp_path, capsys):
    never = str(tmp_path / "never-loaded")
    assert main(["probe", "--model", never, "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path)]) == 2
    assert "--data" in capsys.readouterr().err
    data = tmp_path / "r.jsonl"
    data.write_text("{}\n")
    assert main(["probe", "--model", never, "--data", str(data), "--out", str(tmp_path), "--probes", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown probe 'nope'" in err and "video_frozen" in err
    assert main(["probe", "--model", never, "--data", str(data), "--out", str(tmp_path),
                 "--media-root", str(tmp_path / "absent")]) == 2
    assert "--media-root" in capsys.readouterr().err
