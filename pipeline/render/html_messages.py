"""The page of one message file (SMS backup, chat export, screenshot): self-contained HTML.

Every message with its time, direction and counterpart; flagged words highlighted in their
category colour; rules over the message log (sent at night, too many a day) as chips under the
message; a numbered flag list with rule, score, legal basis and reviewer note. A screenshot's
page shows the annotated copy (flagged lines boxed) and names the untouched original and its hash.
Used for ``CASE_DIR/messages/<id>/messages.html`` and, with pack numbers, for the evidence pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from pipeline.render.categories import STATUS_LABELS
from pipeline.render.flag_view import FlagView, flag_view
from pipeline.render.html_call import asset, detail_rows_html, flag_chip, rule_rows, status_row
from pipeline.render.message_view import (
    FORMAT_LABELS,
    OCR_NOTICE,
    TEXT_NOTICE,
    TIME_SOURCE_LABELS,
    direction_label,
    highlight_message,
    kind_label,
    party_text,
    when_text,
)

PAGE_NAME = "messages.html"


def numbered_flags(flags: list[Any], messages: list[Any], numbers: Mapping[int, int] | None = None
                   ) -> list[tuple[int, Any, FlagView]]:
    """(number, row, view) in page order: by message, log flags first, then by position."""
    order = {m.id: m.idx for m in messages}
    rows = sorted(flags, key=lambda f: (order.get(f.message_id, 1 << 30), f.level != "log", f.start_char or 0, f.id))
    return [((numbers or {}).get(f.id, i), f, flag_view(f)) for i, f in enumerate(rows, start=1)]


def detail_anchors(views: list[tuple[int, Any, FlagView]]) -> dict[int, str]:
    """Flag id -> the id of its detail on the page, unique: ``detail-N`` for the first flag shown
    as #N, ``detail-N-2``, ``detail-N-3``… for the next ones (in a pack the flags of one message
    share its evidence item's number), so ``#detail-N`` still leads to item N."""
    seen: dict[int, int] = {}
    anchors = {}
    for number, row, _ in views:
        seen[number] = seen.get(number, 0) + 1
        anchors[row.id] = f"detail-{number}" + (f"-{seen[number]}" if seen[number] > 1 else "")
    return anchors


def _original_html(original_name: str, original_href: str | None, original_note: str) -> str:
    """The original's name, linked when the pack (or case) holds it, else with ``original_note``."""
    if original_href is None:
        return f'{escape(original_name)}<span class="withheld">（{escape(original_note)}）</span>'
    return f'<a href="{escape(original_href)}">{escape(original_name)}</a>'


def _meta(source: Any, messages: list[Any], original: str) -> str:
    received = sum(m.direction == "received" for m in messages)
    sent = sum(m.direction == "sent" for m in messages)
    unknown = len(messages) - received - sent
    counted = f"{len(messages)} 条（收到 {received}，发出 {sent}" + (f"，方向未知 {unknown}" if unknown else "") + "）"
    parties = sorted({party_text(m) for m in messages if m.direction != "sent"})
    rows = [("文件", original),
            ("类型", escape(FORMAT_LABELS.get(source.format or "", kind_label(source.kind)))),
            ("接收人", escape(source.received_by or "未注明")),
            ("消息", escape(counted)),
            ("对方", escape("、".join(parties[:8]) + ("…" if len(parties) > 8 else "")) or "—"),
            ("SHA-256", escape(source.sha256)),
            ("接收入案（UTC）", escape((source.intake_at or "").replace("T", " ")[:19]))]
    return '<dl class="meta">' + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in rows) + "</dl>"


def _figure(source: Any, image_href: str | None, original: str, original_name: str, annotated: bool) -> str:
    if image_href is None:
        return ""
    what = ("标注副本：红框标出有标记的文字行，框上的标签是类别代码（或证据目录序号）。" if annotated
            else "原图（没有需要标注的标记）。")
    return (f'<figure class="shot"><a href="{escape(image_href)}"><img src="{escape(image_href)}" '
            f'alt="{escape(original_name)}"></a><figcaption>{what}原图未改动：'
            f'{original}，SHA-256 {escape(source.sha256)}'
            "</figcaption></figure>")


def _message_row(message: Any, views: list[tuple[int, Any, FlagView]], anchors: Mapping[int, str]) -> str:
    mine = [(f.id, n, v) for n, f, v in views if f.message_id == message.id]
    spans = [(flag_id, v) for flag_id, _, v in mine if v.start_char is not None]
    log = [(flag_id, v) for flag_id, _, v in mine if v.start_char is None]
    shown = {flag_id: n for flag_id, n, _ in mine}
    head = [f'<span class="dir">{direction_label(message.direction)}</span>',
            f'<time title="{escape(TIME_SOURCE_LABELS.get(message.time_source or "", ""))}">'
            f"{escape(when_text(message))}</time>",
            f"<span>{'发给' if message.direction == 'sent' else '来自'} {escape(party_text(message))}</span>"]
    if message.sender:
        head.append(f"<span>发送人：{escape(message.sender)}</span>")
    if message.confidence is not None:
        head.append(f"<span>识别置信度 {message.confidence:.2f}</span>")
    notes = f'<p class="notes">{escape("；".join(message.notes))}</p>' if message.notes else ""
    chips = "".join(f'<a class="flag-link" href="#{anchors[flag_id]}">{flag_chip(v)}</a> ' for flag_id, v in log)
    log_html = f'<div class="log-flags">{chips}</div>' if chips else ""
    direction = message.direction or "unknown"
    return (f'<div class="msg dir-{escape(direction)}" id="msg-{message.idx}"><div class="msg-head">{"".join(head)}</div>'
            f'<p class="text">{highlight_message(message.text, spans, href=lambda key: "#" + anchors[key], numbers=shown)}'
            f'</p>{notes}{log_html}</div>')


def _detail(number: int, anchor: str, row: Any, view: FlagView, message: Any | None, extra: Mapping[str, str]) -> str:
    where = f"{direction_label(message.direction)} {when_text(message)}，{party_text(message)}" if message else ""
    rows = [
        ("类别", f"{flag_chip(view)} <code>{escape(view.category)}</code>"),
        ("消息", f'<a href="#msg-{message.idx}">{escape(where)}</a>' if message else ""),
        ("匹配文字", f"“{escape(view.match)}”" if view.match else ""),
        *rule_rows(view),
        *((k, escape(v)) for k, v in extra.items()),
        status_row(view),
    ]
    body = detail_rows_html(rows)
    status = STATUS_LABELS.get(view.status, view.status)
    return (f'<li id="{anchor}" data-message-flag-id="{row.id}"><div class="row-head"><b>#{number}</b> '
            f'{flag_chip(view)} <span class="status s-{escape(view.status)}">{escape(status)}</span></div>'
            f'<table class="detail">{body}</table></li>')


def render_message_page(source: Any, messages: list[Any], flags: list[Any], *, original_href: str | None,
                        image_href: str | None = None, annotated: bool = False, original_name: str | None = None,
                        numbers: Mapping[int, int] | None = None,
                        flag_extra: Mapping[int, Mapping[str, str]] | None = None, footer: str = "",
                        original_note: str = "") -> str:
    """The page of one message file.

    ``source``/``messages``/``flags``: a ``MessageSourceRow``, its ``MessageRow``s and the
    ``MessageFlagRow``s to show (the caller leaves rejected ones out). ``original_href``: the
    original relative to the page, or None where the page cannot link it (a redacted pack
    left it out): then the name is shown with ``original_note``, which says where it is;
    ``image_href``: the image to show for a screenshot (the annotated copy when ``annotated``).
    ``numbers``: flag id -> number shown (default 1..n; several flags may share one, each detail
    keeps a unique id, ``detail_anchors``); ``flag_extra``: flag id -> extra detail rows (e.g. the
    evidence list's 序号).
    """
    name = original_name or Path(source.source_path).name
    views = numbered_flags(flags, messages, numbers)
    anchors = detail_anchors(views)
    original = _original_html(name, original_href, original_note)
    by_id = {m.id: m for m in messages}
    is_shot = source.kind == "screenshot" or source.format == "screenshot"
    notice = OCR_NOTICE if is_shot else TEXT_NOTICE
    problems = "".join(f"<li>{escape(_problem(p))}</li>" for p in source.problems or [])
    problems_html = f"<h2>未能读取的条目（其余已读取）</h2><ul class=\"problems\">{problems}</ul>" if problems else ""
    notices = "".join(f"<li>{escape(n)}</li>" for n in (getattr(source, "meta", None) or {}).get("notices") or [])
    problems_html += f"<h2>读取说明</h2><ul class=\"notices\">{notices}</ul>" if notices else ""
    legend: dict[str, tuple[FlagView, int]] = {}
    for _, _, v in views:
        legend[v.category] = (v, legend.get(v.category, (v, 0))[1] + 1)
    legend_html = ('<div class="legend"><span>图例：</span><ul>' + "".join(
        f"<li>{flag_chip(v)} × {n}</li>" for v, n in legend.values()) + "</ul></div>") if legend else \
        '<p class="legend none">这个文件没有自动标记。</p>'
    rows = "".join(_message_row(m, views, anchors) for m in messages) or '<p class="muted">没有读出消息。</p>'
    figure = _figure(source, image_href, original, name, annotated) if is_shot else ""
    details = "".join(_detail(n, anchors[f.id], f, v, by_id.get(f.message_id), (flag_extra or {}).get(f.id, {}))
                      for n, f, v in views)
    flag_list = (f'<section class="flag-list"><h2>标记清单（{len(views)} 处）</h2><ol>{details}</ol></section>'
                 if views else "")
    title = f"{kind_label(source.kind)} · {name}"
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{asset('page.css')}{asset('call.css')}{asset('messages.css')}"
        "</style></head><body>",
        f'<header class="top"><h1>{escape(title)}</h1>{_meta(source, messages, original)}',
        f'<p class="notice" role="note">⚠ {notice}</p>{legend_html}{problems_html}</header>',
        f'<main class="messages"><div class="msg-layout{" with-shot" if figure else ""}">{figure}',
        f'<div class="msg-list">{rows}</div></div></main>',
        flag_list,
        f"<footer><p>{escape(notice)}</p>{f'<p>{escape(footer)}</p>' if footer else ''}</footer></body></html>\n",
    ])


def _problem(problem: Any) -> str:
    if isinstance(problem, Mapping):
        line = problem.get("line")
        return (f"第 {line} 行：" if line else "") + str(problem.get("reason_zh") or "")
    return str(problem)
