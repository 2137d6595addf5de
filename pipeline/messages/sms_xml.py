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
received and 151/130/129 (to/cc/bcc) for sent. A group message (several recipients, or
``address="a~b"``) keeps them all in ``meta["recipients"]`` and a note; an e-mail address is kept
as the contact, never as a number. Entries are read one by one, so a malformed entry is reported
with its line and skipped while the others are kept; a root ``count=`` that differs from the
entries found (a cut file) is reported. The app's encoding of emoji as pairs of UTF-16 surrogate
references (``&#55357;&#56832;``, also right after another reference), which strict XML parsers
reject, is repaired.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from bisect import bisect_right
from pathlib import Path

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_bytes
from pipeline.messages.times import parse_datetime, parse_epoch

_ROOT = re.compile(rb"<(smses|allsms)\b")
_ENTRY_START = re.compile(r"<(sms|mms)\b")
_ATTRS = r"""(?:\s+[^\s=/<>"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
_SMS_ELEMENT = re.compile(rf"<sms{_ATTRS}(?:/>|>\s*</sms>)")
_CHAR_REF = re.compile(r"&#(x[0-9a-fA-F]+|\d+);")
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NO_NAME = {"", "(unknown)", "null", "unknown", "未知"}
_SENT_TYPES = {"2": None, "4": "发件箱（未确认已发出）", "5": "发送失败", "6": "排队待发"}
_MMS_FROM = "137"
_MMS_RECIPIENTS = ("151", "130", "129")  # to, cc, bcc


def looks_like_sms_xml(head: bytes) -> bool:
    """True when the first bytes of a file open an SMS Backup & Restore / Super Backup document."""
    return bool(_ROOT.search(head[:4096]))


def _code(ref: str) -> int:
    return int(ref[1:], 16) if ref[0] in "xX" else int(ref)


def repair_char_refs(text: str) -> str:
    """Surrogate-pair references -> one character; references XML 1.0 forbids -> U+FFFD.

    Pairs are found wherever they are, also right after another reference (``&#10;&#55357;&#56832;``):
    each reference is looked at in turn, and a high surrogate takes the low one that follows it.
    """
    text = _BAD_XML_CHARS.sub("\ufffd", text)
    out: list[str] = []
    position = 0
    refs = list(_CHAR_REF.finditer(text))
    i = 0
    while i < len(refs):
        m = refs[i]
        out.append(text[position:m.start()])
        code = _code(m.group(1))
        following = refs[i + 1] if i + 1 < len(refs) and refs[i + 1].start() == m.end() else None
        if 0xD800 <= code <= 0xDBFF and following and 0xDC00 <= (low := _code(following.group(1))) <= 0xDFFF:
            out.append(f"&#{0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)};")
            position, i = following.end(), i + 2
            continue
        allowed = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
        out.append(m.group(0) if allowed else "&#xFFFD;")
        position, i = m.end(), i + 1
    out.append(text[position:])
    return "".join(out)


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
    addresses = [a for a in attrs.get("address", "").split("~") if _counterpart(a)[1]]
    number, raw_number, email = _counterpart(addresses[0] if addresses else None)
    message = Message(
        index=index, kind="sms", direction="received" if kind == "1" else "sent",
        text=attrs["body"], number=number, number_raw=raw_number,
        contact_name=_name(attrs.get("contact_name") or attrs.get("name")) or email, time=when, time_source=source,
        time_text=attrs.get("readable_date") or attrs.get("time") or attrs.get("date"), line=line,
        meta={k: attrs[k] for k in ("service_center", "read", "date_sent", "sub_id") if k in attrs},
    )
    if email:
        message.notes.append(f"对方是电子邮箱地址 {email}，不是电话号码")
    if len(addresses) > 1:
        message.meta["recipients"] = addresses
        message.notes.append(f"群发短信，收件人 {len(addresses)} 个：" + "、".join(addresses))
    if _SENT_TYPES.get(kind):
        message.notes.append(_SENT_TYPES[kind])
    if when is None:
        message.notes.append("时间无法识别")
    return message


def _counterpart(raw: str | None) -> tuple[str | None, str | None, str | None]:
    """(number, raw, e-mail) of an address: an e-mail address (MMS to e-mail) is not a number."""
    raw = (raw or "").strip()
    if not raw or raw.lower() in ("null", "insert-address-token"):
        return None, None, None
    if "@" in raw:
        return None, raw, raw
    return canonical_number(raw), raw, None


def _mms(element: ET.Element, index: int, line: int) -> Message | Problem:
    attrs = dict(element.attrib)
    box = attrs.get("msg_box", "").strip()
    if box == "3":
        return Problem(line, "彩信草稿，未发送，已跳过", "mms draft, never sent: skipped")
    if box not in ("1", "2", "4", "5", "6"):
        return Problem(line, f"彩信类型 msg_box={box!r} 不是收到或发出，已跳过", f"mms msg_box {box!r}: skipped")
    texts = [p.get("text", "") for p in element.iter("part") if p.get("ct", "").startswith("text/plain")]
    parts = [t for t in texts if t and t.lower() != "null"]
    received = box == "1"
    addrs = [(a.get("type", ""), a.get("address", "").strip()) for a in element.iter("addr")]
    senders = [a for t, a in addrs if t == _MMS_FROM and _counterpart(a)[1]]
    recipients = [a for t, a in addrs if t in _MMS_RECIPIENTS and _counterpart(a)[1]]
    listed = [a for a in attrs.get("address", "").split("~") if _counterpart(a)[1]]
    if received:
        raw = senders[0] if senders else (listed[0] if listed else None)
    else:
        recipients = recipients or listed
        raw = recipients[0] if recipients else None
    number, raw_number, email = _counterpart(raw)
    when, source = _time(attrs)
    message = Message(
        index=index, kind="sms", direction="received" if received else "sent", text="\n".join(parts),
        number=number, number_raw=raw_number, contact_name=_name(attrs.get("contact_name")) or email,
        time=when, time_source=source, time_text=attrs.get("readable_date") or attrs.get("date"), line=line,
        meta={"mms": True, "parts": len(list(element.iter("part")))},
    )
    if email:
        message.notes.append(f"对方是电子邮箱地址 {email}，不是电话号码")
    others = list(dict.fromkeys(recipients if not received else recipients + listed[1:]))
    if len(others) > 1:  # a received one lists the phone's own number among its recipients too
        message.meta["recipients"] = others
        message.notes.append(f"群发彩信，收件人 {len(others)} 个：" + "、".join(others))
    if _SENT_TYPES.get(box):
        message.notes.append(_SENT_TYPES[box])
    if when is None:
        message.notes.append("时间无法识别")
    if not parts:
        message.notes.append("彩信没有文字部分（只有图片/附件）")
    return message


def _declared_count(text: str) -> int | None:
    m = re.search(r"<(?:smses|allsms)\b[^>]*?\bcount\s*=\s*[\"'](\d+)[\"']", text[:4096])
    return int(m.group(1)) if m else None


def parse_sms_xml(path: Path) -> ParsedFile:
    """Every readable entry of the backup; malformed ones become ``problems`` with their line."""
    path = Path(path)
    raw = read_bytes(path)
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
    entries = len(messages) + len(problems)
    declared = _declared_count(text)
    if declared is not None and declared != entries:
        cut = "" if "</smses>" in text or "</allsms>" in text else "，文件没有结束标记，可能被截断"
        problems.append(Problem(None, f"备份声明 count={declared} 条，实际读到 {entries} 条{cut}（少了的条目无法恢复）"
                                if declared > entries else f"备份声明 count={declared} 条，实际读到 {entries} 条",
                                f"backup declares count={declared}, {entries} entries found", 0))
    return ParsedFile("sms_xml", "sms", messages, problems,
                      meta={"root": root.group(1).decode() if root else None, "entries": entries,
                            "declared_count": declared})
