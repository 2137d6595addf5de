"""WeChat chats exported as HTML by 留痕 (MemoTrace / WeChatMsg, github.com/LC044/WeChatMsg): the
page's script holds every message as a JavaScript object literal::

    <title>催收-阿强</title> …
    const chatMessages = [
    { type:1, text: '你再不还钱\\n试试',is_send:0,avatar_path:'./avatar/x.png',timestamp:1705332665,is_chatroom:0,displayname:'催收-阿强'},
    { type:3, text: './image/a.jpg',is_send:1, … },
    ];

``text`` is HTML-escaped, then JavaScript-escaped (``\\'``, ``\\n``); ``is_send`` 1 = the owner
(sent), 0 = the other side; ``timestamp`` epoch seconds; ``is_chatroom`` 1 = a group, with the
member's name in ``displayname``. Only ``type:1`` (text) and ``type:49`` with a ``refer_text``
(a reply quoting another message) carry text; images, voice, video, stickers, files, links and
system rows (``type:0``) are skipped and counted.
"""

from __future__ import annotations

import re
from collections import Counter
from html import unescape
from pathlib import Path

from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_text
from pipeline.messages.times import parse_epoch

MARKER = "const chatMessages = ["
_OBJECT = re.compile(r"\{\s*type\s*:\s*(?P<type>\d+)\s*,(?P<fields>(?:[^'{}]|'(?:[^'\\]|\\.)*')*)\}", re.S)
_FIELD = re.compile(r"(?P<key>\w+)\s*:\s*(?:'(?P<str>(?:[^'\\]|\\.)*)'|(?P<num>-?\d+))", re.S)
_JS_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\", "/": "/"}
_TYPES = {"0": "系统消息", "3": "图片", "34": "语音", "43": "视频", "47": "表情", "48": "位置", "49": "链接/文件/小程序",
          "50": "语音/视频通话", "10000": "系统消息"}


def looks_like_memotrace_html(text: str) -> bool:
    return MARKER in text


def _js_string(value: str) -> str:
    return unescape(re.sub(r"\\(.)", lambda m: _JS_ESCAPES.get(m.group(1), m.group(1)), value, flags=re.S))


def parse_memotrace_html(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    path = Path(path)
    html = read_text(path)
    start = html.find(MARKER)
    if start < 0:
        raise InputError(path, "不是留痕（MemoTrace/WeChatMsg）导出的网页（缺 chatMessages 数据）", "no chatMessages in the page")
    end = html.find("\n];", start)  # strings hold no raw newline (JS-escaped)
    data = html[start + len(MARKER): end if end >= 0 else len(html)]
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    chat = unescape(title.group(1)).strip() if title else path.stem
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    group = False
    for number, item in enumerate(_OBJECT.finditer(data), start=1):
        fields = {m["key"]: (_js_string(m["str"]) if m["str"] is not None else m["num"])
                  for m in _FIELD.finditer(item["fields"])}
        kind = item["type"]
        group = group or fields.get("is_chatroom") == "1"
        text = fields.get("text", "") if kind == "1" or (kind == "49" and "refer_text" in fields) else ""
        if not text.strip():
            skipped[_TYPES.get(kind, f"type={kind}")] += 1
            continue
        when = parse_epoch(fields.get("timestamp", ""))
        sent = fields.get("is_send") == "1"
        name = fields.get("displayname", "").strip() or None
        message = Message(index=len(messages), kind="chat", direction="sent" if sent else "received", text=text.strip(),
                          sender=name, contact_name=None if sent else name, time=when,
                          time_source="epoch" if when else None, time_text=fields.get("timestamp"),
                          meta={"entry": number, "group": fields.get("is_chatroom") == "1"})
        if sent and fields.get("is_chatroom") != "1":
            message.contact_name = chat
        if fields.get("refer_text"):
            message.notes.append(f"引用：{fields['refer_text']}")
        if when is None:
            problems.append(Problem(None, f"第 {number} 条消息时间无法识别 {fields.get('timestamp')!r}（消息已保留）",
                                    f"message #{number}: bad timestamp (kept)", 0))
        messages.append(message)
    if not messages and not skipped:
        raise InputError(path, "留痕导出的网页里没有读出消息（chatMessages 为空或格式不对）", "no messages in chatMessages")
    if end < 0:
        problems.append(Problem(None, "chatMessages 数据没有结尾（文件被截断？），已读出截断前的消息",
                                "chatMessages never ends (cut file?): messages before the cut kept", 0))
    problems += [Problem(None, f"{n} 条{what}（没有文字），未导入", f"{n} skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("memotrace_html", "chat", messages, problems,
                      meta={"shape": "memotrace_html", "counterpart": chat, "group": group, "me": sorted(me)})
