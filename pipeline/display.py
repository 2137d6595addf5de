"""File names as they are shown in a terminal line: control and formatting characters escaped.

A file name may hold a newline, a carriage return, an ANSI escape or a right-to-left override
(U+202E); printed as they are, they split one error line into two, recolour the terminal, or make
``evil.exe‮3pm`` read as ``evil.exe mp3``. ``printable`` writes each of them as a visible escape
(``\\n``, ``\\x1b``, ``\\u202e``); everything else, Chinese included, is left alone.
``console_text`` also escapes rich's ``[markup]``, so a name like ``[/red].mp3`` is shown as it
is instead of being read (or rejected) as markup.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from rich.markup import escape

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Cc control, Cf format (bidi overrides, zero-width), Zl/Zp line and paragraph separators,
# Cs lone surrogates (undecodable bytes in a POSIX file name).
_ESCAPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str | Path) -> str:
    """``text`` with control/format characters written as visible escapes: always one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape_char(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in text)


def console_text(text: str | Path) -> str:
    """``printable(text)`` made safe to embed in a rich markup string."""
    return escape(printable(text))
