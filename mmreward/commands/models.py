"""`mmreward models`: the released reward models mmreward knows (mmreward.registry.CATALOG)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from mmreward.commands.parsing import Command

COLUMNS = (("name", "model"), ("backbone", "backbone"), ("kind", "kind"), ("outputs", "outputs"),
           ("needs", "needs"), ("use", "use"))


@dataclass
class ModelsConfig:
    _argument_group_name = "listing"

    format: Literal["table", "markdown", "json"] = field(default="table", metadata={
        "help": "table (aligned text), markdown (the README's table) or json (one object per model)"})


def rows(catalog: list[dict]) -> list[list[str]]:
    return [[str(entry.get(key, "")) for key, _ in COLUMNS] for entry in catalog]


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


def table(catalog: list[dict]) -> str:
    body = rows(catalog)
    heads = [title for _, title in COLUMNS]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(heads)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*heads), fmt.format(*("-" * w for w in widths))]
                     + [fmt.format(*r).rstrip() for r in body])


def run(cfg: ModelsConfig) -> int:
    from mmreward.registry import CATALOG

    if cfg.format == "json":
        print(json.dumps(CATALOG, indent=2))
    else:
        print(markdown(CATALOG) if cfg.format == "markdown" else table(CATALOG))
    return 0


COMMAND = Command(
    configs=(ModelsConfig,),
    run=run,
    description=("List the released reward models mmreward loads as their official code runs them: "
                 "hub id, backbone, kind, outputs, what they need, and the command line to use each."),
)
