"""Android SMS backups in the XML of "SMS Backup & Restore" (root ``<smses>``) and of "Super
Backup" (root ``<allsms>``).

    <smses count="2">
      <sms address="+8613800138000" date="1705329065000" type="1" body="..." contact_name="(Unknown)"
           readable_date="2024年1月15日 下午10:31:05" />
      <mms date="1705329065000" msg_box="1" address="10690000">
        <parts><part ct="text/plain" text="..." /></parts>
        <addrs><addr address="10690000" type="137" /></addrs>
      </mms>
    </smses>

``date`` is epoch milliseconds (seconds accepted); ``type`` 1 = received, 2 = sent, 4/5/6 =
outbox/failed/queued (kept as sent, with a note), 3 = draft (skipped, reported). MMS: ``msg_box``
the same, text from the ``text/plain`` parts, the counterpart from ``addr`` type 137 (from) for
received and 151 (to) for sent. Entries are read one by one, so a malformed entry is reported
with its line and skipped while the others are kept. The app's encoding of emoji as pairs of
UTF-16 surrogate references (``&#55357;&#56832;``), which strict XML parsers reject, is repaired.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from bisect import bisect_right
from pathlib import Path

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.times import parse_datetime, parse_epoch

_ROOT = re.compile(rb"<(smses|allsms)\b")
_ENTRY_START = re.compile(r"<(sms|mms)\b")
_ATTRS = r"""(?:\s+[^\s=/<>"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
_SMS_ELEMENT = re.compile(rf"<sms{_ATTRS}(?:/>|>\s*</sms>)")
_CHAR_REF = re.compile(r"&#(x[0-9a-fA-F]+|\d+);")
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NO_NAME = {"", "(unknown)", "null", "unknown", "未知"}
_SENT_TYPES = {"2": None, "4": "发件箱（未确认已发出）", "5": "发送失败", "6": "排队待发"}
_MMS_FROM, _MMS_TO = "137", "151"


def looks_like_sms_xml(head: bytes) -> bool:
    """True when the first bytes of a file open an SMS Backup & Restore / Super Backup document."""
    return bool(_ROOT.search(head[:4096]))


def _code(ref: str) -> int:
    return int(ref[1:], 16) if ref[0] in "xX" else int(ref)


def repair_char_refs(text: str) -> str:
    """Surrogate-pair references -> one character; references XML 1.0 forbids -> U+FFFD."""

    def fix(m: re.Match[str]) -> str:
        code = _code(m.group(1))
        if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
            return m.group(0)
        return "&#xFFFD;"

    def pair(m: re.Match[str]) -> str:
        high, low = _code(m.group(1)), _code(m.group(2))
        if 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF:
            return f"&#{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)};"
        return m.group(0)

    text = re.sub(r"&#(x[0-9a-fA-F]+|\d+);&#(x[0-9a-fA-F]+|\d+);", pair, text)
    return _CHAR_REF.sub(fix, _BAD_XML_CHARS.sub("\ufffd", text))


def _decode(raw: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _name(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value.lower() in _NO_NAME else value


def _time(attrs: dict[str, str]) -> tuple[object, str | None]:
    when = parse_epoch(attrs.get("date", ""))
    if when is not None:
        return when, "epoch"
    for key in ("readable_date", "time"):
        if attrs.get(key) and (when := parse_datetime(attrs[key])) is not None:
            return when, "export"
    return None, None


def _sms(attrs: dict[str, str], index: int, line: int) -> Message | Problem | None:
    kind = attrs.get("type", "").strip()
    if kind == "3":
        return Problem(line, "草稿，未发送，已跳过", "draft, never sent: skipped")
    if kind != "1" and kind not in _SENT_TYPES:
        return Problem(line, f"未知的短信类型 type={kind!r}，已跳过", f"unknown sms type {kind!r}: skipped")
    if "body" not in attrs:
        return Problem(line, "缺少 body（短信内容），已跳过", "no body attribute: skipped")
    when, source = _time(attrs)
    raw_number = attrs.get("address", "").strip() or None
    message = Message(
        index=index, kind="sms", direction="received" if kind == "1" else "sent",
        text=attrs["body"], number=canonical_number(raw_number), number_raw=raw_number,
        contact_name=_name(attrs.get("contact_name") or attrs.get("name")), time=when, time_source=source,
        time_text=attrs.get("readable_date") or attrs.get("time") or attrs.get("date"), line=line,
        meta={k: attrs[k] for k in ("service_center", "read", "date_sent", "sub_id") if k in attrs},
    )
    if _SENT_TYPES.get(kind):
        message.notes.append(_SENT_TYPES[kind])
    if when is None:
        message.notes.append("时间无法识别")
    return message


def _mms(element: ET.Element, index: int, line: int) -> Message | Problem:
    attrs = dict(element.attrib)
    box = attrs.get("msg_box", "").strip()
    if box not in ("1", "2", "4", "5", "6"):
        return Problem(line, f"彩信类型 msg_box={box!r} 不是收到或发出，已跳过", f"mms msg_box {box!r}: skipped")
    texts = [p.get("text", "") for p in element.iter("part") if p.get("ct", "").startswith("text/plain")]
    parts = [t for t in texts if t and t.lower() != "null"]
    received = box == "1"
    wanted = _MMS_FROM if received else _MMS_TO
    addrs = [a.get("address", "") for a in element.iter("addr") if a.get("type") == wanted]
    raw_number = (addrs[0] if addrs else attrs.get("address", "").split("~")[0]).strip() or None
    when, source = _time(attrs)
    message = Message(
        index=index, kind="sms", direction="received" if received else "sent", text="\n".join(parts),
        number=canonical_number(raw_number), number_raw=raw_number, contact_name=_name(attrs.get("contact_name")),
        time=when, time_source=source, time_text=attrs.get("readable_date") or attrs.get("date"), line=line,
        meta={"mms": True, "parts": len(list(element.iter("part")))},
    )
    if not parts:
        message.notes.append("彩信没有文字部分（只有图片/附件）")
    return message


def parse_sms_xml(path: Path) -> ParsedFile:
    """Every readable entry of the backup; malformed ones become ``problems`` with their line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "无法读取", f"cannot read: {exc.strerror}") from exc
    if not looks_like_sms_xml(raw):
        raise InputError(path, "不是 SMS Backup & Restore 的短信备份 XML（根元素应为 <smses>）",
                         "not an SMS Backup & Restore XML backup (root element <smses> or <allsms> expected)")
    text = _decode(raw, path)
    newlines = [m.start() for m in re.finditer("\n", text)]
    messages: list[Message] = []
    problems: list[Problem] = []
    position = 0
    while m := _ENTRY_START.search(text, position):
        line = bisect_right(newlines, m.start()) + 1
        if m.group(1) == "sms":
            element = _SMS_ELEMENT.match(text, m.start())
            chunk = element.group(0) if element else None
            position = element.end() if element else m.end()
        else:
            end = text.find("</mms>", m.start())
            chunk = text[m.start(): end + len("</mms>")] if end >= 0 else None
            position = end + len("</mms>") if end >= 0 else m.end()
        if chunk is None:
            problems.append(Problem(line, f"第 {len(messages) + len(problems) + 1} 条记录格式损坏，已跳过",
                                    f"malformed <{m.group(1)}> entry: skipped"))
            continue
        try:
            node = ET.fromstring(repair_char_refs(chunk))
        except ET.ParseError as exc:
            problems.append(Problem(line, f"记录无法解析（{exc}），已跳过", f"unparseable entry ({exc}): skipped"))
            continue
        result = _sms(dict(node.attrib), len(messages), line) if node.tag == "sms" else _mms(node, len(messages), line)
        (problems if isinstance(result, Problem) else messages).append(result)
    root = _ROOT.search(raw[:4096])
    return ParsedFile("sms_xml", "sms", messages, problems,
                      meta={"root": root.group(1).decode() if root else None, "entries": len(messages) + len(problems)})
