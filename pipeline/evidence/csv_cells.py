"""Spreadsheet-safe CSV cells: no cell of a pack's CSV can run as a formula.

Collectors choose their nicknames and write the SMS text that end up in ``timeline.csv`` and
``contacts_reached.csv``; Excel and WPS run a cell that starts with ``= + - @`` (or a tab or
carriage return before one) as a formula (CSV injection). Such a cell gets a leading ``'``,
which spreadsheets show as plain text and which a reader sees for what it is.
"""

from __future__ import annotations

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text
