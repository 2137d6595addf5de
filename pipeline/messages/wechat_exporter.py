"""WeChat chats exported by WechatExporter (github.com/BlueMatthew/WechatExporter: reads an iTunes /
Finder backup of the iPhone; Android users migrate the chats to an iPhone first), TXT and HTML.

TXT — the session's name on the first line, then one line per message, continued on the next
lines when the message has several::

    催收小王 - 微信聊天记录
    催收小王 (2024-01-15 22:31:05):明天我们上门去你单位
    小明 (2024-01-15 22:32:10):我月底还
    System Message: 你撤回了一条消息

HTML (one file per chat, messages inline) — ``<body uid="<owner wxid>" sid="<chat wxid>">`` and
per message ``<div class="msg chat left|right …">`` with ``<span class="dspname …" wxId="…">名字
</span> 2024-01-15 22:31:05`` and the text in ``<span class="dont-break-out msg-text"><pre>…</pre>``
(a quoted message first, in a ``refermsg`` span). ``right`` is the owner (sent), ``left`` the
other side; a chat id ending in ``@chatroom`` is a group. A page that loads its messages from
``msg-N.js`` files (the exporter's "async loading") has none inline and is refused saying so.

TXT directions: the session's name is the other side when a sender has that name (everyone
else is the owner), or ``--me`` names the owner; otherwise directions stay unknown (notice).
System messages and placeholders of messages without text (``[图片]``, ``[语音]``, ``[视频]`` …)
are skipped and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from pipeline.errors import InputError
from pipeline.messages.chat_text import is_owner
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.qq_mht import html_text
from pipeline.messages.sms_csv import read_text
from pipeline.messages.times import parse_datetime

_TITLE_RE = re.compile(r"^(?P<name>.+?) - (?:微信聊天记录|WeChat Chat History)\s*$")
_LINE_RE = re.compile(r"^(?P<name>.+?) \((?P<time>\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}:\d{2})\):(?P<text>.*)$")
_SYSTEM_RE = re.compile(r"^(?:System Message:|系统消息[:：])")
_PLACEHOLDER = re.compile(r"^\[(?:图片|语音|视频|表情|文件|位置|红包|转账|链接|个人名片|视频号名片|实时位置共享|视频/语音通话|"
                          r"Photo|Audio|Video|Sticker|File|Location)[^\[\]]*\]$")
_BLOCK = re.compile(r'<div class="msg (?P<cls>[^"]*)"[^>]*>(?P<body>.*?)(?=<div class="msg |</body>|\Z)', re.S)
_NAME_TIME = re.compile(r'<span class="dspname[^"]*"(?:\s+wxId="(?P<wxid>[^"]*)")?[^>]*>(?P<name>.*?)</span>\s*'
                        r"(?P<time>[^<]*?)\s*</div>", re.S | re.I)
_TEXT = re.compile(r'<span class="dont-break-out msg-text"><pre>(?P<text>.*?)</pre></span>', re.S)


def looks_like_wechat_exporter_text(text: str) -> bool:
    lines = [line for line in text.splitlines()[:6] if line.strip()]
    return bool(lines) and bool(_TITLE_RE.match(lines[0].strip())) and any(_LINE_RE.match(x) for x in lines[1:])


def looks_like_wechat_exporter_html(text: str) -> bool:
    return "微信聊天记录</title>" in text or ("WeChat Chat History</title>" in text) or \
        ('class="dspname' in text and 'class="nt-box"' in text)


def _skip_reason(text: str) -> str | None:
    if _PLACEHOLDER.match(text.strip()):
        return f"{text.strip()}（没有文字的消息）"
    return None


def _notice(chat: str, directions: list[str | None], group: bool) -> list[str]:
    if directions and all(d is None for d in directions):
        return [f"{'群聊' if group else '聊天'}“{chat}”：无法确定哪位发言人是本人，所有消息的方向未知（标记为“未确认发言方”）；"
                "请用 add-messages --me 或 messages.csv 的 me 列给出本人的微信昵称"]
    return []


def parse_wechat_exporter_text(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    path = Path(path)
    lines = read_text(path).splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    title = _TITLE_RE.match(lines[first].strip()) if first is not None else None
    if title is None:
        raise InputError(path, "不是 WechatExporter 导出的 TXT（第一行应为“名字 - 微信聊天记录”）", "not a WechatExporter TXT")
    chat = title["name"].strip()
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    current: Message | None = None
    for number, line in enumerate(lines[first + 1:], start=first + 2):
        if _SYSTEM_RE.match(line):
            skipped["系统消息"] += 1
            current = None
            continue
        m = _LINE_RE.match(line)
        if m is None:
            if current is not None:
                current.text += "\n" + line
            elif line.strip():
                problems.append(Problem(number, "不属于任何消息的一行，已忽略", "line outside any message: ignored", 0))
            continue
        when = parse_datetime(m["time"])
        current = Message(index=len(messages), kind="chat", direction=None, text=m["text"], sender=m["name"].strip(),
                          time=when, time_source="export" if when else None, time_text=m["time"], line=number)
        messages.append(current)
        if when is None:
            problems.append(Problem(number, f"时间无法识别 {m['time']!r}（消息已保留）", f"bad time {m['time']!r} (kept)", 0))
    kept: list[Message] = []
    for message in messages:
        message.text = message.text.strip("\n")
        if (reason := _skip_reason(message.text)) or not message.text.strip():
            skipped[reason or "空消息"] += 1
            continue
        message.index = len(kept)
        kept.append(message)
    senders = {m.sender for m in kept}
    group = len(senders) > 2
    peer = chat if chat in senders and not group else None
    for message in kept:
        name = message.sender or ""
        if me:
            message.direction = "sent" if is_owner(name, me) else "received"
        elif peer:
            message.direction = "received" if name == peer else "sent"
        message.contact_name = (chat if not group else None) if message.direction == "sent" else name
        message.meta["group"] = group
    problems += [Problem(None, f"{n} 条{what}，未导入", f"{n} skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("wechat_exporter_txt", "chat", kept, problems,
                      meta={"shape": "wechat_exporter_txt", "counterpart": chat, "group": group, "me": sorted(me),
                            "notices": _notice(chat, [m.direction for m in kept], group)})


def _plain(fragment: str) -> str:
    return html_text(fragment, image="[表情]")


def parse_wechat_exporter_html(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    path = Path(path)
    html = read_text(path)
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    chat = _plain(title.group(1)).rsplit(" - ", 1)[0] if title else path.stem
    body = re.search(r'<body\b[^>]*\buid="([^"]*)"[^>]*\bsid="([^"]*)"', html)
    owner_id, chat_id = (body.group(1), body.group(2)) if body else ("", "")
    group = chat_id.endswith("@chatroom")
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    blocks = list(_BLOCK.finditer(html))
    for number, block in enumerate(blocks, start=1):
        classes = block["cls"].split()
        if "chat-notice" in classes:
            skipped["系统消息"] += 1
            continue
        head = _NAME_TIME.search(block["body"])
        if head is None:
            continue
        texts = _TEXT.findall(block["body"])
        text = _plain(texts[-1]) if texts else ""
        if "chat" not in classes or not text or _skip_reason(text):
            skipped["没有文字的消息（图片/语音/视频/表情等）"] += 1
            continue
        name, written = _plain(head["name"]), _plain(head["time"])
        when = parse_datetime(written)
        if me:
            direction = "sent" if is_owner(name, me) else "received"
        elif "right" in classes or "left" in classes:
            direction = "sent" if "right" in classes or (owner_id and head["wxid"] == owner_id) else "received"
        else:
            direction = None
        message = Message(index=len(messages), kind="chat", direction=direction, text=text, sender=name, time=when,
                          time_source="export" if when else None, time_text=written,
                          contact_name=(chat if not group else None) if direction == "sent" else name,
                          meta={"block": number, "group": group, **({"wxid": head["wxid"]} if head["wxid"] else {})})
        if len(texts) > 1:
            message.notes.append(f"引用：{_plain(texts[0])}")
        if when is None:
            problems.append(Problem(None, f"第 {number} 条消息时间无法识别 {written!r}（消息已保留）",
                                    f"message #{number}: bad time {written!r} (kept)", 0))
        messages.append(message)
    if not messages and not skipped:
        if re.search(r"msg-\"?\s*\+|/msg-\d+\.js", html):
            raise InputError(path, "这个 WechatExporter 网页的消息在单独的 msg-N.js 文件里（异步加载），网页本身没有消息；"
                                   "请在 WechatExporter 里关闭异步加载重新导出，或导出为 TXT",
                             "messages are loaded from msg-N.js files (async loading): export again without it, or as TXT")
        raise InputError(path, "网页里没有读出微信消息（应为 WechatExporter 导出的聊天记录 .html）", "no WeChat messages in the page")
    problems += [Problem(None, f"{n} 条{what}，未导入", f"{n} skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("wechat_exporter_html", "chat", messages, problems,
                      meta={"shape": "wechat_exporter_html", "counterpart": chat, "group": group, "me": sorted(me),
                            "notices": _notice(chat, [m.direction for m in messages], group)})
