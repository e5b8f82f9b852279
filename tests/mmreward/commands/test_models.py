"""`mmreward models`: model, kind and needs wrapped to the terminal; every column in markdown;
every family with its typed options in json."""
from __future__ import annotations

import json

from mmreward.cli import main
from mmreward.commands.models import markdown, table
from mmreward.registry import catalog, families


def test_the_default_listing_fits_the_terminal_and_leads_with_name_kind_needs(capsys, monkeypatch):
    rows = catalog()
    for width in (60, 100):
        text = table(rows, width)
        assert max(map(len, text.splitlines())) <= width
        assert text.splitlines()[0].split() == ["model", "kind", "needs"]
        assert len(text.splitlines()) >= len(rows) + 2
    wide = table(rows, 1000)  # nothing to wrap: one line per model, every name whole
    assert len(wide.splitlines()) == len(rows) + 2 and all(r["name"] in wide for r in rows)
    monkeypatch.setenv("COLUMNS", "72")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 72 and "--format json" in out
    assert "backbone" not in out.splitlines()[0]  # the long columns are markdown's and json's


def test_markdown_has_every_column_and_json_every_family_with_typed_options(capsys):
    assert main(["models", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.strip() == markdown(catalog())
    assert markdown(catalog()).splitlines()[0] == "| model | backbone | kind | outputs | needs | use |"
    assert main(["models", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [f["family"] for f in listed] == [f.name for f in families()]
    assert [row for f in listed for row in f["models"]] == [{k: v for k, v in r.items() if k != "family"}
                                                            for r in catalog()]
    videoreward = next(f for f in listed if f["family"] == "videoreward")
    options = {o["name"]: o for o in videoreward["options"]}
    assert options["checkpoint_step"]["type"] == "int" and options["normalize"] == {
        "name": "normalize", "type": "bool", "default": True,
        "help": "normalise the head outputs with the release's inference_config (false: the raw outputs)"}
    unified = next(f for f in listed if f["family"] == "unifiedreward")
    assert {o["name"]: o["type"] for o in unified["options"]}["task"] == "pair-rank|point-score"
    assert "CodeGoat24/UnifiedReward-qwen-{3b,7b,32b,72b}" in unified["hub_ids"]
