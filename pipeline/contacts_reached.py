"""Who received what ("联系人被骚扰的证明"): the person behind every call and message, and the
contacts-reached table of a case — each person, relation, how many calls / messages /
screenshots, from which numbers, first and last time, and the flagged categories.

A person comes from ``calls.csv`` / ``messages.csv`` (``received_by``) or from the input folder
layout ``INPUT/<person>/...`` (the first folder under INPUT, unless it is a phone number or a
folder phones and recorder apps create themselves, e.g. ``MIUI``, ``Recordings``, ``DCIM``).
The relation is read from the person's label: ``本人`` / ``借款人`` / ``我`` is the borrower;
``母亲``, ``同事王某`` or ``王某（同事）`` give 母亲 / 同事; otherwise it is left empty.

Only messages that are contacts by the other side count (``contact_messages``): a full SMS
backup's bank notices and family messages are not evidence that the contact list was used.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.calls import DEFAULT_ZONE, is_number_like, local_zone

UNKNOWN_PERSON = "未注明"
BORROWER = "本人"
BORROWER_WORDS = {"本人", "借款人", "我", "自己", "债务人", "me", "self", "borrower"}
RELATION_WORDS = (
    "父亲", "母亲", "爸爸", "妈妈", "丈夫", "妻子", "老公", "老婆", "配偶", "儿子", "女儿", "哥哥", "姐姐", "弟弟", "妹妹",
    "爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷", "叔叔", "阿姨", "舅舅", "姑姑", "姨妈", "岳父", "岳母", "公公", "婆婆",
    "表哥", "表姐", "表弟", "表妹", "堂哥", "堂姐", "堂弟", "堂妹", "亲戚", "家人", "同事", "领导", "老板", "上司", "主管",
    "同学", "朋友", "室友", "邻居", "房东", "担保人", "紧急联系人", "爸", "妈",
)
DEVICE_FOLDERS = {
    "recordings", "recording", "recorder", "record", "records", "call", "calls", "callrecord", "callrecords",
    "call_rec", "callrecordings", "call recordings", "sound_recorder", "soundrecorder", "sounds", "miui", "music",
    "audio", "voice", "录音", "通话录音", "screenshots", "screenshot", "截图", "截屏", "pictures", "dcim", "camera",
    "download", "downloads", "wechat", "weixin", "微信", "qq", "tencent", "sms", "短信", "messages", "消息",
    "backup", "backups", "备份", "images", "图片", "documents", "files", "input", "data",
    "通话记录", "calllog", "call_log", "call logs", "calllogs", "详单", "通话详单", "最近通话",
}


def person_from_path(path: Path, input_dir: Path | None) -> str | None:
    """``INPUT/<person>/...``: the first folder under ``input_dir``, when it names a person."""
    if input_dir is None:
        return None
    try:
        parts = Path(path).resolve().relative_to(Path(input_dir).resolve()).parts
    except ValueError:
        return None
    if len(parts) < 2:
        return None
    folder = parts[0].strip()
    if not folder or is_number_like(folder) or folder.lower() in DEVICE_FOLDERS:
        return None
    return folder


def relation_of(person: str | None) -> str:
    """本人 for the borrower, a kinship/social word found in the label, else ''."""
    if not person or person == UNKNOWN_PERSON:
        return ""
    label = person.strip()
    if label.lower() in BORROWER_WORDS or re.fullmatch(r"(?:本人|借款人)[（(].*[)）]", label):
        return BORROWER
    bracket = re.search(r"[（(]\s*([^()（）]+?)\s*[)）]", label)
    for text in ([bracket.group(1)] if bracket else []) + [label]:
        for word in sorted(RELATION_WORDS, key=len, reverse=True):
            if word in text:
                return {"爸": "父亲", "妈": "母亲"}.get(word, word)
    return ""


@dataclass
class ContactReached:
    person: str
    relation: str
    calls: int = 0
    messages: int = 0  # received messages (SMS, chat lines, screenshot bubbles)
    screenshots: int = 0  # screenshot files
    numbers: list[str] = field(default_factory=list)
    first: str | None = None  # local wall time, ISO
    last: str | None = None
    categories: dict[str, int] = field(default_factory=dict)  # flags not rejected, not stale
    flagged_items: int = 0

    @property
    def is_borrower(self) -> bool:
        return self.relation == BORROWER

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "is_borrower": self.is_borrower}


def _local(text: str | None) -> datetime | None:
    if not text:
        return None
    when = datetime.fromisoformat(text)
    return when.astimezone(local_zone(DEFAULT_ZONE)).replace(tzinfo=None) if when.tzinfo else when


class _Tally:
    def __init__(self, person: str) -> None:
        self.row = ContactReached(person, relation_of(person))
        self.numbers: Counter[str] = Counter()
        self.times: list[datetime] = []

    def add(self, number: str | None, time: str | None, categories: list[str]) -> None:
        if number:
            self.numbers[number] += 1
        if (when := _local(time)) is not None:
            self.times.append(when)
        self.row.categories.update(Counter(categories))
        self.row.flagged_items += bool(categories)

    def finish(self) -> ContactReached:
        self.row.numbers = [n for n, _ in self.numbers.most_common()]
        if self.times:
            self.row.first = min(self.times).isoformat(sep=" ")
            self.row.last = max(self.times).isoformat(sep=" ")
        self.row.categories = dict(sorted(self.row.categories.items()))
        return self.row


def party(message: Any) -> str | None:
    """The counterpart of a message: its number, else the name the source shows."""
    return message.number or message.contact_name


def contact_messages(messages: Iterable[Any], kinds: Mapping[str, str | None], call_numbers: Iterable[str | None],
                     flagged_ids: Iterable[str]) -> list[Any]:
    """The messages that are contacts by the other side: received ones (or of unknown direction)
    from a party that called in the case or whose messages carry a flag, every received one of a
    chat export or screenshot (the user chose those as evidence), and any flagged one."""
    messages = list(messages)
    flagged = set(flagged_ids)
    parties = {n for n in call_numbers if n} | {p for m in messages if m.id in flagged and (p := party(m))}
    return [m for m in messages if m.id in flagged or (m.direction != "sent" and (
        party(m) in parties or kinds.get(m.source_id) in ("chat", "screenshot")))]


def contacts_reached(store: Any, input_dir: Path | None = None, *, call_ids: set[str] | None = None,
                     source_ids: set[str] | None = None, calllog_source_ids: set[str] | None = None,
                     flag_statuses: tuple[str, ...] = ("pending", "accepted")) -> list[ContactReached]:
    """The table for a case: the borrower first, then contacts by how often they were reached.

    Calls count unless failed; their own ``received_by`` wins, else the folder layout under
    ``input_dir`` (when given). Calls known only from a call log (``pipeline.calllog``: not
    recorded, missed ones too) count with their file's person, in the case's table (``call_ids``
    None) or in a pack that holds their files (``calllog_source_ids``), with the categories of the
    findings over them that no recording carries (counted once, on the finding's first call); a call in two logs, or in a log and a recording, counts once. Messages count when ``contact_messages`` keeps them and they
    were not sent by the person. An evidence pack narrows the table to what it holds:
    ``call_ids`` / ``source_ids`` (None = all) and the ``flag_statuses`` whose categories count.
    """
    tallies: dict[str, _Tally] = {}

    def tally(person: str | None) -> _Tally:
        key = person or UNKNOWN_PERSON
        return tallies.setdefault(key, _Tally(key))

    def live(flags: list[Any]) -> list[str]:
        return [f.category for f in flags if not f.stale and f.status in flag_statuses]

    calls = [c for c in store.iter_calls() if call_ids is None or c.id in call_ids]
    for call in calls:
        if call.status == "failed" or call.direction == "outgoing":
            continue
        entry = tally(call.received_by or person_from_path(Path(call.source_path), input_dir))
        entry.row.calls += 1
        entry.add(call.number, call.start_time, live(store.call_flags(call.id)))
    if (call_ids is None or calllog_source_ids is not None) and hasattr(store, "calllog_entries"):
        # calls known only from a call log, and the findings over them no recording carries
        sources = {s.id: s for s in store.calllog_sources(status="done")
                   if calllog_source_ids is None or s.id in calllog_source_ids}
        findings: dict[str, list[str]] = {}  # entry id -> categories of the live log-only findings it leads
        for finding in store.calllog_flags() if hasattr(store, "calllog_flags") else []:
            if finding.log_only and finding.entry_ids and live([finding]):
                findings.setdefault(finding.entry_ids[0], []).append(finding.category)
        for entry in store.calllog_entries():
            if entry.source_id not in sources or entry.same_as or entry.call_id or entry.direction == "outgoing":
                continue  # counted once: with its recording, or with the log entry kept for the call
            source = sources[entry.source_id]
            row = tally(entry.received_by or source.received_by)
            row.row.calls += entry.count
            row.add(entry.number or entry.contact_name, entry.start_time, findings.get(entry.id, []))
    if hasattr(store, "message_sources"):
        sources = {s.id: s for s in store.message_sources() if source_ids is None or s.id in source_ids}
        flags_by_message: dict[str, list[Any]] = {}
        for flag in (f for f in store.message_flags() if f.source_id in sources):
            flags_by_message.setdefault(flag.message_id, []).append(flag)
        for source in sources.values():
            if source.kind == "screenshot" and source.status == "done":
                tally(source.received_by).row.screenshots += 1
        live_ids = {m for m, flags in flags_by_message.items() if live(flags)}
        kinds = {s.id: s.kind for s in sources.values()}
        messages = [m for m in store.messages() if m.source_id in sources]
        for message in contact_messages(messages, kinds, [c.number for c in calls], live_ids):
            if message.direction == "sent":
                continue
            source = sources.get(message.source_id)
            entry = tally(message.received_by or (source.received_by if source else None))
            entry.row.messages += 1
            entry.add(message.number or message.contact_name, message.time, live(flags_by_message.get(message.id, [])))
    rows = [t.finish() for t in tallies.values()]
    return sorted(rows, key=lambda r: (not r.is_borrower, r.person == UNKNOWN_PERSON, -(r.calls + r.messages), r.person))


def to_markdown(rows: list[ContactReached]) -> str:
    """The table as Markdown (the case summary and the evidence pack's 证据目录 use it), categories in Chinese."""
    from pipeline.render.categories import category_label

    lines = ["| 接收人 | 关系 | 通话 | 消息 | 截图 | 对方号码 | 最早 | 最晚 | 标记类别 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        categories = "、".join(f"{category_label(c)}×{n}" for c, n in r.categories.items()) or "—"
        lines.append(f"| {r.person} | {r.relation or '—'} | {r.calls} | {r.messages} | {r.screenshots} | "
                     f"{'、'.join(r.numbers) or '—'} | {r.first or '—'} | {r.last or '—'} | {categories} |")
    return "\n".join(lines) + "\n"
