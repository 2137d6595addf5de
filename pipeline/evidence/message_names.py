"""Readable file names for the pack's message pages: ``messages/<stem>.html|.json|.txt``.

A stem reads ``<date>_<HHMM>_<other party>_<kind>``, e.g. ``2024-01-15_2340_13800138000_短信``:
the local time of the conversation's first message (else the screenshot's capture time, else the
file's modification time, else ``日期未知``), the other party's number or name (``…等3方`` when the
file holds several and none is named by the export), and the kind (短信, 微信, QQ, 聊天记录,
微信截图, 截图…). Names are the same on every export of the same case state; two files with one
name (compared case-insensitively, as Windows and macOS do) both get their file id's first 8
characters after it. Every name is safe on Windows, macOS and Linux (``portable_name``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pipeline.calls import DEFAULT_ZONE, local_zone
from pipeline.render.message_view import kind_label, local_time

STEM_MAX_BYTES = 120  # UTF-8 bytes; with ".html" well under every file system's 255
PARTY_MAX_CHARS = 24
# separators, controls, Windows' reserved characters, and '#'/'%' that break a link to the file
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|#%]')
_RESERVED = re.compile(r"^(?:CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(?:\..*)?$", re.IGNORECASE)
_QQ_FORMATS = {"qq_mht", "qce_json", "qce_txt"}
_WECHAT_FORMATS = {"memotrace_html", "wechat_exporter_txt", "wechat_exporter_html"}
_SHOT_APPS = (("com.tencent.mm", "微信"), ("com.tencent.mobileqq", "QQ"), ("mms", "短信"), ("messaging", "短信"))


def masked_name(name: str) -> str:
    """A masked number's ``*`` as ``＊`` (U+FF0A): Windows forbids ``*`` in file names."""
    return name.replace("*", "＊")


def portable_name(name: str, max_bytes: int = STEM_MAX_BYTES, fallback: str = "消息") -> str:
    """``name`` as a file name safe on Windows, macOS and Linux: NFC, ``*`` as ``＊``, no separators,
    controls or other reserved characters, no leading/trailing dots or spaces, not a device name (CON, NUL, COM1…),
    at most ``max_bytes`` bytes of UTF-8 (cut on a character boundary)."""
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", masked_name(name)))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .")
    while len(cleaned.encode("utf-8")) > max_bytes:
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip(" .")
    if not cleaned:
        return fallback
    return f"_{cleaned}" if _RESERVED.match(cleaned) else cleaned


def message_kind(source: Any) -> str:
    """短信 / 微信 / QQ / 聊天记录 / 微信截图 / 截图 …: what a clerk calls the file."""
    fmt, kind = source.format or "", source.kind or ""
    if kind == "screenshot" or fmt == "screenshot":
        name = str(source.source_path or "").lower()
        app = next((label for marker, label in _SHOT_APPS if marker in name), "")
        return f"{app}截图"
    if fmt in _QQ_FORMATS or (fmt == "chat_text" and (source.meta or {}).get("counterpart")):
        return "QQ"  # a plain-text export naming its 消息对象 is QQ's "导出消息记录"
    if fmt in _WECHAT_FORMATS or (fmt == "sms_csv" and kind == "chat"):
        return "微信"
    return kind_label(kind)


def _party_of(message: Any) -> str | None:
    return message.number or message.contact_name or None


def _conversation(pack_file: Any) -> tuple[str, list[Any]]:
    """(the other party as the name shows it, that party's messages; all messages when unnamed)."""
    meta = pack_file.source.meta or {}
    parties = Counter(p for m in pack_file.messages if (p := _party_of(m)))
    if len(parties) == 1:
        return next(iter(parties)), pack_file.messages
    if meta.get("counterpart"):  # a chat export that names its chat (QQ's 消息对象)
        return str(meta["counterpart"]), pack_file.messages
    if not parties:
        return str(meta.get("title") or "对方未知"), pack_file.messages
    flagged = [f.message for f in pack_file.flags if f.message is not None and _party_of(f.message)]
    received = Counter(p for m in pack_file.messages if m.direction != "sent" and (p := _party_of(m)))
    party = _party_of(flagged[0]) if flagged else (received or parties).most_common(1)[0][0]
    return f"{party}等{len(parties)}方", [m for m in pack_file.messages if _party_of(m) == party]


def _start(pack_file: Any, messages: list[Any]) -> str:
    """'2024-01-15_2340' of the first message, else of the file; '日期未知' when nothing tells."""
    times = [t for m in messages if (t := local_time(m.time)) is not None]
    when: datetime | None = min(times) if times else None
    if when is None:
        captured = (pack_file.source.meta or {}).get("captured")
        when = local_time(captured) if captured else None
    if when is None and pack_file.source.mtime:
        when = datetime.fromtimestamp(pack_file.source.mtime, local_zone(DEFAULT_ZONE)).replace(tzinfo=None)
    return when.strftime("%Y-%m-%d_%H%M") if when else "日期未知"


def message_stem(pack_file: Any, mask: Callable[[str], str] | None = None) -> str:
    """The file's readable stem before de-duplication; ``mask`` (the pack's redactor) masks
    third-party numbers in the party's name."""
    party, messages = _conversation(pack_file)
    party = (mask or str)(party)
    party = portable_name(party, fallback="对方未知")
    if len(party) > PARTY_MAX_CHARS:
        party = party[:PARTY_MAX_CHARS - 1].rstrip(" .") + "…"
    return portable_name(f"{_start(pack_file, messages)}_{party}_{message_kind(pack_file.source)}")


def name_message_files(files: list[Any], mask: Callable[[str], str] | None = None) -> None:
    """Set ``stem`` on each ``PackMessageFile``; a name two files would share gets each one's id."""
    stems = {id(f): message_stem(f, mask) for f in files}
    counts = Counter(s.casefold() for s in stems.values())
    for pack_file in files:
        stem = stems[id(pack_file)]
        if counts[stem.casefold()] > 1:
            stem = portable_name(stem, STEM_MAX_BYTES - 9) + "_" + pack_file.source.id[:8]
        pack_file.stem = stem
