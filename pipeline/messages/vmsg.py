"""SMS exported as vMessage (``.vmsg`` / ``.vmg``): the "导出到存储卡" file of Huawei / Honor (EMUI)
and MediaTek-based phones, and the Nokia / IrMC ``.vmg``. One ``BEGIN:VMSG … END:VMSG`` block per
message, the other side in an inner vCard, the text in ``VBODY``::

    BEGIN:VMSG
    VERSION:1.1
    X-IRMS-TYPE:MSG
    X-MESSAGE-TYPE:DELIVER                  (DELIVER = received, SUBMIT = sent)
    X-MESSAGE-STATUS:READ
    BEGIN:VCARD
    VERSION:2.1
    TEL:+8613800138000
    END:VCARD
    BEGIN:VBODY
    Date:2014/06/29 09:38:53 GMT
    Subject;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:=E4=BD=A0=E5=A5=BD
    END:VBODY
    END:VMSG

Variants read the same way: the box as ``X-BOX:INBOX|SENDBOX|OUTBOX|DRAFT`` (MediaTek) or
``X-IRMC-BOX:INBOX|SENT|OUTBOX|DRAFT`` (IrMC / Nokia, with ``BEGIN:VENV`` around the body and the
text as plain lines after ``Date:``); dates ``2014/06/29 09:38:53``, ``2014-06-29 09:38``,
``29.06.2014 09:38:53`` (day first, Nokia) or epoch milliseconds. Quoted-printable text
(soft line breaks ``=`` at line ends) is decoded with its CHARSET (UTF-8 default). Drafts are
skipped and reported; a block without a date keeps the message without a time; a block that
never ends (a cut file) is reported. A "GMT" after the date is how these phones label the
phone's own clock; the time is read as written and the file gets a warning saying so.
"""

from __future__ import annotations

import quopri
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_text
from pipeline.messages.times import parse_datetime

_RECEIVED = {"DELIVER", "INBOX", "RECEIVED"}
_SENT = {"SUBMIT", "SENDBOX", "SENTBOX", "SENT", "OUTBOX"}
_DRAFT = {"DRAFT", "DRAFTBOX", "DRAFTS"}
_DAY_FIRST = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_BOX_KEYS = ("X-BOX", "X-IRMC-BOX", "X-MESSAGE-TYPE")


def looks_like_vmsg(text: str) -> bool:
    return "BEGIN:VMSG" in text[:4096].upper()


def _date(value: str) -> tuple[datetime | None, bool]:
    """(time, labelled GMT) of a VBODY ``Date:`` value."""
    text = value.strip()
    gmt = bool(re.search(r"\s(GMT|UTC)$", text, re.I))
    text = re.sub(r"\s(GMT|UTC)$", "", text, flags=re.I).strip()
    if m := _DAY_FIRST.match(text):
        day, month, year, hour, minute, second = m.groups()
        try:
            return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0)), gmt
        except ValueError:
            return None, gmt
    return parse_datetime(text), gmt


def _property(line: str) -> tuple[str, dict[str, str], str] | None:
    """``NAME;PARAM=V;…:value`` -> (NAME, params, value); None for a plain text line."""
    m = re.match(r"^([A-Za-z][A-Za-z0-9-]*)((?:;[^:;]*)*):(.*)$", line)
    if m is None:
        return None
    params = {}
    for part in filter(None, m.group(2).split(";")):
        key, _, value = part.partition("=")
        params[key.strip().upper()] = value.strip()
    return m.group(1).upper(), params, m.group(3)


def _decode(value: str, params: dict[str, str]) -> str:
    if params.get("ENCODING", "").upper() in ("QUOTED-PRINTABLE", "QP") or "QUOTED-PRINTABLE" in params:
        raw = quopri.decodestring(value.encode("ascii", "replace"))
        for charset in (params.get("CHARSET") or "utf-8", "utf-8", "gb18030"):
            try:
                return raw.decode(charset)
            except (UnicodeDecodeError, LookupError):
                continue
        return raw.decode("utf-8", "replace")
    return value


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Lines with quoted-printable soft breaks (a trailing ``=``) joined; (1-based first line, text)."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if pending is not None:
            start, text = pending
            text += line.strip()
            pending = (start, text[:-1]) if text.endswith("=") else None
            if pending is None:
                out.append((start, text))
            continue
        if "QUOTED-PRINTABLE" in line.upper().split(":", 1)[0] and line.endswith("="):
            pending = (number, line[:-1])
            continue
        out.append((number, line))
    if pending is not None:
        out.append(pending)
    return out


class _Block:
    def __init__(self, line: int) -> None:
        self.line = line
        self.box: str | None = None
        self.tel: str | None = None
        self.name: str | None = None
        self.date: str | None = None
        self.text: list[str] = []
        self.stack: list[str] = []


def _blocks(lines: list[tuple[int, str]]) -> tuple[list[_Block], list[Problem]]:
    blocks: list[_Block] = []
    problems: list[Problem] = []
    current: _Block | None = None
    for number, line in lines:
        stripped = line.strip()
        upper = stripped.upper()
        if upper == "BEGIN:VMSG":
            if current is not None:
                problems.append(Problem(current.line, "短信记录没有结束（缺 END:VMSG），已跳过", "VMSG block never ends: skipped"))
            current = _Block(number)
            continue
        if current is None:
            continue
        if upper.startswith("BEGIN:"):
            current.stack.append(upper[6:])
            continue
        if upper.startswith("END:"):
            if upper == "END:VMSG":
                blocks.append(current)
                current = None
            elif current.stack:
                current.stack.pop()
            continue
        where = current.stack[-1] if current.stack else "VMSG"
        prop = _property(stripped)
        if where == "VBODY":
            if prop and prop[0] == "DATE" and current.date is None:
                current.date = prop[2]
            elif prop and prop[0] in ("SUBJECT", "TEXT", "BODY"):
                current.text.append(_decode(prop[2], prop[1]))
            elif not (prop and prop[0].startswith("X-")):
                current.text.append(line)
        elif where == "VCARD" and prop:
            if prop[0] == "TEL" and prop[2].strip() and current.tel is None:
                current.tel = prop[2].strip()
            elif prop[0] in ("FN", "N") and prop[2].strip(" ;"):
                current.name = current.name or _decode(prop[2], prop[1]).strip(" ;").replace(";", " ")
        elif where == "VMSG" and prop and prop[0] in _BOX_KEYS and prop[2].strip():
            value = prop[2].strip().upper()
            if prop[0] != "X-MESSAGE-TYPE" or current.box is None:
                current.box = value
    if current is not None:
        problems.append(Problem(current.line, "文件在一条短信中间结束（缺 END:VMSG，文件被截断？），这条已跳过",
                                "file ends inside a message (cut file?): skipped"))
    return blocks, problems


def parse_vmsg(path: Path) -> ParsedFile:
    """Every SMS of a vMessage file; drafts and unreadable blocks reported with their line."""
    path = Path(path)
    text = read_text(path)
    if not looks_like_vmsg(text):
        raise InputError(path, "不是 vMessage 短信文件（应以 BEGIN:VMSG 开始，如华为“导出到存储卡”的 .vmsg）",
                         "not a vMessage file (no BEGIN:VMSG)")
    blocks, problems = _blocks(_logical_lines(text.splitlines()))
    messages: list[Message] = []
    gmt_labels = 0
    skipped: Counter[str] = Counter()
    for block in blocks:
        box = block.box or ""
        if box in _DRAFT:
            problems.append(Problem(block.line, "草稿，未发送，已跳过", "draft, never sent: skipped"))
            continue
        direction = "received" if box in _RECEIVED else "sent" if box in _SENT else None
        body = "\n".join(block.text).strip()
        if not body:
            skipped["没有文字的短信/彩信"] += 1
            continue
        when, gmt = _date(block.date) if block.date else (None, False)
        gmt_labels += gmt and when is not None
        message = Message(
            index=len(messages), kind="sms", direction=direction, text=body,
            number=canonical_number(block.tel) if block.tel else None, number_raw=block.tel,
            contact_name=block.name, time=when, time_source="export" if when else None,
            time_text=block.date, line=block.line)
        if direction is None:
            problems.append(Problem(block.line, f"收发类型 {box or '（缺）'!r} 无法识别，方向未知（短信已保留）",
                                    f"unknown box {box!r}: direction unknown (kept)", 0))
        if block.date and when is None:
            problems.append(Problem(block.line, f"时间无法识别 {block.date!r}（短信已保留）",
                                    f"bad date {block.date!r} (kept)", 0))
        messages.append(message)
    if not blocks and not problems:
        raise InputError(path, "vMessage 文件里没有短信记录（BEGIN:VMSG … END:VMSG）", "no VMSG blocks")
    if gmt_labels:
        problems.append(Problem(None, f"{gmt_labels} 条短信的时间标着“GMT”：按手机上的本地时间原样读取；"
                                      "若与手机里显示的时间相差 8 小时，请以手机为准",
                                f"{gmt_labels} dates labelled GMT: read as the phone's local time", 0))
    problems += [Problem(None, f"{n} 条{what}，未导入", f"{n} entries skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("vmsg", "sms", messages, problems, meta={"blocks": len(blocks)})
