"""`mmreward models`: the model families mmreward loads, their models and their options
(`mmreward.registry`)."""
from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command

COLUMNS = (("name", "model"), ("backbone", "backbone"), ("kind", "kind"), ("outputs", "outputs"),
           ("needs", "needs"), ("use", "use"))
#: the default listing: what a model is and what it needs, fitted to the terminal
SHORT = (("name", "model"), ("kind", "kind"), ("needs", "needs"))
HINT = ("`mmreward models --format markdown` adds backbone, outputs and the command line; "
        "`--format json` each family's options (type, default, help).")


@dataclass
class ModelsConfig:
    _argument_group_name = "listing"

    format: Literal["table", "markdown", "json"] = field(default="table", metadata={
        "help": "table (model, kind, needs; wrapped to the terminal), markdown (every column: the README's "
                "table) or json (each family: its names, presets, hub ids, models and typed options)"})


def markdown(catalog: list[dict]) -> str:
    """The catalog as a Markdown table (the README's "Released reward models" table is this)."""
    def cell(text: str, key: str) -> str:
        text = text.replace("|", "\\|")
        return f"`{text}`" if key in ("name", "use") and text else text

    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for entry in catalog:
        lines.append("| " + " | ".join(cell(str(entry.get(k, "")), k) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def fit(natural: list[int], room: int, least: int = 8) -> list[int]:
    """Column widths within `room`: every column its natural width when all fit, else an equal
    share, the room a narrow column leaves going to the wider ones."""
    widths = [min(n, least) for n in natural]
    left = room - sum(widths)
    wanting = [i for i, n in enumerate(natural) if n > widths[i]]
    while left > 0 and wanting:
        share = max(1, left // len(wanting))
        for i in list(wanting):
            give = min(share, natural[i] - widths[i], left)
            widths[i] += give
            left -= give
            if widths[i] >= natural[i]:
                wanting.remove(i)
    return widths


def table(catalog: list[dict], width: int | None = None) -> str:
    """Model, kind and needs, each cell wrapped so that no line is wider than `width` (the
    terminal's)."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    heads = [title for _, title in SHORT]
    body = [[str(entry.get(key, "")) for key, _ in SHORT] for entry in catalog]
    natural = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]
    widths = fit(natural, width - 2 * (len(heads) - 1))
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in body:
        cells = [textwrap.wrap(cell, w, break_long_words=True) or [""] for cell, w in zip(row, widths)]
        for k in range(max(map(len, cells))):
            lines.append("  ".join((c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths)).rstrip())
    return "\n".join(lines)


def listing() -> list[dict]:
    """Each family as `--format json` prints it."""
    from mmreward.registry import families

    return [{"family": fam.name, "title": fam.title, "names": list(fam.names), "prefixes": list(fam.prefixes),
             "presets": list(fam.presets), "hub_ids": dict(fam.hub_ids), "modes": fam.modes,
             "models": list(fam.catalog), "options": fam.describe_options()} for fam in families()]


def run(cfg: ModelsConfig) -> int:
    from mmreward.registry import catalog

    if cfg.format == "json":
        print(json.dumps(listing(), indent=2, default=str))
    elif cfg.format == "markdown":
        print(markdown(catalog()))
    else:
        width = shutil.get_terminal_size((100, 24)).columns
        print(table(catalog(), width))
        print("\n" + textwrap.fill(HINT, width))
    return 0


COMMAND = Command(
    configs=(ModelsConfig,),
    run=run,
    description=("List the reward models mmreward loads (the released ones as their official code runs "
                 "them): model, kind, what it needs; with --format markdown also backbone, outputs and "
                 "the command line; with --format json every family's options, typed, with defaults."),
)
