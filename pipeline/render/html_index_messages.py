"""The message parts of the case index: what the timeline and the per-number table take from the
message files, the table of message files with their flag counts, and the contacts-reached table
(联系人被骚扰的证明: who received calls and messages, from which numbers, when, what was flagged)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from pipeline.contacts_reached import (
    UNKNOWN_PERSON,
    ContactReached,
    contact_messages,
    contacts_reached,
    party,
)
from pipeline.render.categories import category_style, tint
from pipeline.render.message_view import FORMAT_LABELS, kind_label

MESSAGES_DIR = "messages"
MESSAGE_PAGE = "messages.html"


def message_page_path(case_dir: Path, source_id: str) -> Path:
    return Path(case_dir) / MESSAGES_DIR / source_id / MESSAGE_PAGE


@dataclass
class IndexMessages:
    items: list[dict[str, Any]] = field(default_factory=list)  # timeline / number table entries
    files: list[dict[str, Any]] = field(default_factory=list)  # one per message file
    flags: list[dict[str, Any]] = field(default_factory=list)  # {source_id, message_id, category, status}
    contacts: list[ContactReached] = field(default_factory=list)


def collect_index_messages(case_dir: Path, store: Any, call_numbers: list[str | None],
                           named_calls: bool = False) -> IndexMessages:
    """What the index shows of the case's messages (empty when the store holds none).

    ``named_calls``: some call has a ``received_by`` person, so the contacts table is worth
    showing even without messages.
    """
    if not hasattr(store, "message_sources"):
        return IndexMessages()
    sources = store.message_sources()
    out = IndexMessages()
    if sources:
        messages = store.messages()
        flags = store.message_flags()
        out.flags = [{"source_id": f.source_id, "message_id": f.message_id, "category": f.category,
                      "status": f.status} for f in flags]
        live = [f for f in flags if f.status != "rejected"]
        per_message = Counter(f.message_id for f in live)
        kinds = {s.id: s.kind for s in sources}
        pages = {s.id: message_page_path(case_dir, s.id) for s in sources}
        for message in contact_messages(messages, kinds, [n for n in call_numbers if n], set(per_message)):
            page = pages[message.source_id]
            out.items.append({
                "id": message.id, "time": message.time, "party": party(message), "kind": kinds[message.source_id],
                "direction": message.direction, "flagged": per_message.get(message.id, 0),
                "href": f"{page.relative_to(case_dir).as_posix()}#msg-{message.idx}" if page.is_file() else None})
        by_source: dict[str, list[Any]] = {}
        for message in messages:
            by_source.setdefault(message.source_id, []).append(message)
        for source in sources:
            mine = by_source.get(source.id, [])
            page = pages[source.id]
            out.files.append({
                "id": source.id, "name": Path(source.source_path).name, "kind": source.kind,
                "format": source.format, "received_by": source.received_by, "status": source.status,
                "error": source.error, "total": len(mine), "received": sum(m.direction == "received" for m in mine),
                "sent": sum(m.direction == "sent" for m in mine),
                "categories": Counter(f.category for f in live if f.source_id == source.id),
                "pending": sum(f.status == "pending" for f in flags if f.source_id == source.id),
                "skipped": sum(int(p.get("skipped", 1)) for p in source.problems or []),
                "notices": list((source.meta or {}).get("notices") or []),
                "href": page.relative_to(case_dir).as_posix() if page.is_file() else None})
    if sources or named_calls:
        rows = contacts_reached(store)
        if any(r.person != UNKNOWN_PERSON for r in rows):
            out.contacts = rows
    return out


def _chips(counts: Counter[str] | dict[str, int]) -> str:
    return " ".join(
        f'<span class="chip" style="--c:{s.colour};--bg:{tint(s.colour)}">{escape(s.label)} × {n}</span>'
        for code, n in sorted(counts.items(), key=lambda kv: -kv[1]) if (s := category_style(code))) or "—"


def message_files_table(files: list[dict[str, Any]]) -> str:
    rows = []
    for i, f in enumerate(files, start=1):
        kind = FORMAT_LABELS.get(f.get("format") or "", kind_label(f.get("kind")))
        if f.get("status") == "failed":
            counts, chips = "—", f'<span class="muted">读取失败：{escape(f.get("error") or "")}</span>'
        else:
            counts = f"{f['total']}（收到 {f['received']}，发出 {f['sent']}）"
            if f.get("skipped"):
                counts += f"；跳过 {f['skipped']}"
            chips = _chips(f["categories"])
            if f.get("notices"):
                chips += "".join(f'<br><span class="muted">{escape(n)}</span>' for n in f["notices"])
        link = f'<a href="{escape(f["href"])}">查看消息</a>' if f.get("href") else '<span class="muted">—</span>'
        rows.append(f'<tr><td class="num">{i}</td><td>{escape(f["name"])}</td><td>{escape(kind)}</td>'
                    f'<td>{escape(f.get("received_by") or "未注明")}</td><td>{escape(counts)}</td><td>{chips}</td>'
                    f'<td class="num">{f.get("pending", 0)}</td><td>{link}</td></tr>')
    return ('<table class="grid messages"><tr><th>#</th><th>文件</th><th>类型</th><th>接收人</th><th>消息数</th>'
            f'<th>标记（未排除）</th><th>待复核</th><th>内容</th></tr>{"".join(rows)}</table>')


def contacts_table(rows: list[ContactReached]) -> str:
    body = []
    for r in rows:
        body.append(f"<tr><td>{escape(r.person)}</td><td>{escape(r.relation or '—')}</td>"
                    f'<td class="num">{r.calls}</td><td class="num">{r.messages}</td><td class="num">{r.screenshots}</td>'
                    f"<td>{escape('、'.join(r.numbers) or '—')}</td><td>{escape((r.first or '—')[:16])}</td>"
                    f"<td>{escape((r.last or '—')[:16])}</td><td>{_chips(r.categories)}</td></tr>")
    return ('<p class="muted">每位接收人接到的电话和收到的消息（不含本人打出、发出的）：通讯录上的亲友、同事被联系，即是“爆通讯录”的直接证据。'
            '标记类别不含已排除的标记。</p>'
            '<table class="grid contacts"><tr><th>接收人</th><th>关系</th><th>通话</th><th>消息</th><th>截图</th>'
            f'<th>对方号码</th><th>最早</th><th>最晚</th><th>标记类别</th></tr>{"".join(body)}</table>')
