"""The one exception type for bad benchmark input.

Every message names where the problem is (file, row, id) and what is wrong, so a
user can fix the line without reading a traceback; the CLI prints it and exits 2.
"""
from __future__ import annotations

from mmreward.errors import InputError


class DataError(InputError):
    """Bad benchmark data, predictions or media paths."""


def where(row: int, item_id: object = None) -> str:
    """'row 12 (id 'abc')' - the prefix every item-level message starts with."""
    if item_id is None or item_id == "":
        return f"row {row}"
    return f"row {row} (id {str(item_id)!r})"
