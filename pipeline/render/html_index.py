"""The case index: a timeline of the calls and messages (day x hour, off-hours shaded), flags per
category and per counterpart number, a link to each call's annotated transcript and each message
file's page, and the contacts-reached table. Self-contained (inline SVG, no JS)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from pipeline.calls import local_zone
from pipeline.render.categories import DIRECTION_LABELS, STATUS_LABELS, category_style, tint
from pipeline.render.html_call import asset, duration_zh
from pipeline.render.html_index_messages import IndexMessages, contacts_table, message_files_table
from pipeline.render.message_view import kind_label
from pipeline.render.writers import MACHINE_NOTICE

OFF_HOURS = (22, 8)  # [22:00, 08:00), GB/T 45251 and CBA-2026
MAX_EMPTY_DAY_SPAN = 31  # longer spans show only days with calls
HOUR_W, ROW_H, LABEL_W, TOP = 36, 24, 96, 26
FLAGGED_COLOUR, PLAIN_COLOUR = "#c0392b", "#6b7a89"


def local_start(value: Any) -> datetime | None:
    """A call's start as a naive local wall time (aware times are moved to the local zone)."""
    if not value:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is not None:
        when = when.astimezone(local_zone()).replace(tzinfo=None)
    return when


def is_off_hours(when: datetime) -> bool:
    return when.hour >= OFF_HOURS[0] or when.hour < OFF_HOURS[1]


def _days(starts: Iterable[datetime]) -> list[date]:
    days = sorted({s.date() for s in starts})
    if not days or (days[-1] - days[0]).days > MAX_EMPTY_DAY_SPAN:
        return days
    return [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]


def _message_marks(messages: list[tuple[Mapping[str, Any], datetime]], row: Mapping[date, int]) -> list[str]:
    parts = []
    for message, start in messages:
        x = LABEL_W + (start.hour + start.minute / 60 + start.second / 3600) * HOUR_W
        y = TOP + row[start.date()] * ROW_H + ROW_H / 2
        n, r = message.get("flagged", 0), 5.0
        title = (f"{start:%Y-%m-%d %H:%M} {kind_label(message.get('kind'))} {message.get('party') or '对方未知'}"
                 f"{f' · 标记 {n} 处' if n else ''}")
        mark = (f'<path class="msg" d="M{x:.1f},{y - r:.1f} L{x + r:.1f},{y:.1f} L{x:.1f},{y + r:.1f} '
                f'L{x - r:.1f},{y:.1f} Z" fill="{FLAGGED_COLOUR if n else PLAIN_COLOUR}">'
                f"<title>{escape(title)}</title></path>")
        parts.append(f'<a href="{escape(message["href"])}">{mark}</a>' if message.get("href") else mark)
    return parts


def timeline_svg(calls: list[Mapping[str, Any]], flagged: Mapping[str, int],
                 messages: list[Mapping[str, Any]] | None = None) -> str:
    """Day rows x 24 hour columns; one dot per call (bigger = longer), one diamond per message,
    red when flagged, linked."""
    timed = [(c, s) for c in calls if (s := local_start(c.get("start_time")))]
    timed_messages = [(m, s) for m in messages or [] if (s := local_start(m.get("time")))]
    if not timed and not timed_messages:
        return '<p class="muted">没有可用的通话或消息时间，无法画时间轴。</p>'
    days = _days([s for _, s in timed] + [s for _, s in timed_messages])
    row = {d: i for i, d in enumerate(days)}
    width, height = LABEL_W + 24 * HOUR_W + 8, TOP + len(days) * ROW_H + 4
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="通话{"与消息" if messages else ""}时间轴：每行一天，横轴为钟点">']
    body_h = len(days) * ROW_H
    for start_h, end_h in ((0, OFF_HOURS[1]), (OFF_HOURS[0], 24)):
        parts.append(f'<rect class="off" x="{LABEL_W + start_h * HOUR_W}" y="{TOP}" '
                     f'width="{(end_h - start_h) * HOUR_W}" height="{body_h}"/>')
    for h in range(25):
        x = LABEL_W + h * HOUR_W
        parts.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + body_h}"/>')
        if h < 24 and h % 2 == 0:
            parts.append(f'<text class="hour" x="{x + 2}" y="{TOP - 8}">{h:02d}时</text>')
    for d, i in row.items():
        y = TOP + i * ROW_H
        parts.append(f'<line class="grid" x1="{LABEL_W}" y1="{y + ROW_H}" x2="{LABEL_W + 24 * HOUR_W}" y2="{y + ROW_H}"/>')
        parts.append(f'<text class="day" x="4" y="{y + ROW_H - 7}">{d.isoformat()}</text>')
    for call, start in sorted(timed, key=lambda cs: -(cs[0].get("duration") or 0)):
        x = LABEL_W + (start.hour + start.minute / 60 + start.second / 3600) * HOUR_W
        y = TOP + row[start.date()] * ROW_H + ROW_H / 2
        r = 4 + min(6.0, (call.get("duration") or 0) / 60)
        n = flagged.get(call["id"], 0)
        title = (f"{start:%Y-%m-%d %H:%M} {call.get('number') or '号码未知'} "
                 f"{DIRECTION_LABELS.get(call.get('direction') or '', '')} {duration_zh(call.get('duration'))}"
                 f"{f' · 标记 {n} 处' if n else ''}")
        dot = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{FLAGGED_COLOUR if n else PLAIN_COLOUR}">'
               f"<title>{escape(title)}</title></circle>")
        parts.append(f'<a href="{escape(call["href"])}">{dot}</a>' if call.get("href") else dot)
    parts += _message_marks(timed_messages, row)
    parts.append("</svg>")
    diamonds = (f'<span class="diamond" style="background:{FLAGGED_COLOUR}"></span>有标记的消息'
                f'<span class="diamond" style="background:{PLAIN_COLOUR}"></span>其他相关消息') if messages else ""
    legend = (f'<p class="chart-legend"><span class="swatch off"></span>非时段（{OFF_HOURS[0]}:00–0{OFF_HOURS[1]}:00）'
              f'<span class="dot" style="background:{FLAGGED_COLOUR}"></span>有标记的通话'
              f'<span class="dot" style="background:{PLAIN_COLOUR}"></span>无标记的通话{diamonds}'
              f'<span class="muted">圆点越大，通话越长；点击圆点打开该通电话的转写'
              f'{"，点击菱形打开该条消息" if messages else ""}。</span></p>')
    untimed = len(calls) - len(timed)
    note = f'<p class="muted">另有 {untimed} 通电话时间未知，未画入时间轴。</p>' if untimed else ""
    untimed_messages = len(messages or []) - len(timed_messages)
    if untimed_messages:
        note += f'<p class="muted">另有 {untimed_messages} 条消息时间未知，未画入时间轴。</p>'
    return f'<div class="chart">{"".join(parts)}</div>{legend}{note}'


def _category_table(flags: list[Mapping[str, Any]]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for f in flags:
        counts[f["category"]][f.get("status") or "pending"] += 1
    if not counts:
        return '<p class="muted">没有自动标记。</p>'
    rows = []
    for code, by_status in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
        style = category_style(code)
        cells = "".join(f'<td class="num">{by_status.get(s, 0)}</td>' for s in STATUS_LABELS)
        rows.append(f'<tr><td><span class="chip" style="--c:{style.colour};--bg:{tint(style.colour)}">'
                    f'{escape(style.label)}</span> <code>{escape(code)}</code></td>'
                    f'<td class="num">{sum(by_status.values())}</td>{cells}</tr>')
    head = "".join(f"<th>{label}</th>" for label in STATUS_LABELS.values())
    return f'<table class="grid"><tr><th>类别</th><th>合计</th>{head}</tr>{"".join(rows)}</table>'


def _number_table(calls: list[Mapping[str, Any]], flagged: Mapping[str, int],
                  messages: list[Mapping[str, Any]] | None = None) -> str:
    """One row per counterpart; with messages, their counts and times join the calls'."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for call in calls:
        groups[call.get("number") or "号码未知"].append(call)
    texts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for message in messages or []:
        texts[message.get("party") or "对方未知"].append(message)
    rows = []
    keys = sorted(set(groups) | set(texts), key=lambda k: (-len(groups.get(k, [])), -len(texts.get(k, [])), k))
    for number in keys:
        group, notes = groups.get(number, []), texts.get(number, [])
        call_starts = [s for c in group if (s := local_start(c.get("start_time")))]
        starts = sorted(call_starts + [s for m in notes if (s := local_start(m.get("time")))])
        names = sorted({c["contact_name"] for c in group if c.get("contact_name")})
        per_day = Counter(s.date() for s in (starts if messages else call_starts))
        message_cell = f'<td class="num">{len(notes)}</td>' if messages else ""
        off = sum(is_off_hours(s) for s in (starts if messages else call_starts))
        marks = sum(flagged.get(c["id"], 0) for c in group) + sum(m.get("flagged", 0) for m in notes)
        rows.append(
            f"<tr><td>{escape(number)}{escape(' （' + '、'.join(names) + '）') if names else ''}</td>"
            f'<td class="num">{len(group)}</td>{message_cell}'
            f'<td>{f"{starts[0]:%Y-%m-%d %H:%M}" if starts else "—"}</td>'
            f'<td>{f"{starts[-1]:%Y-%m-%d %H:%M}" if starts else "—"}</td>'
            f'<td class="num">{max(per_day.values()) if per_day else "—"}</td>'
            f'<td class="num">{off}</td><td class="num">{marks}</td></tr>')
    head = ("<th>通话数</th><th>消息数</th><th>最早</th><th>最近</th><th>单日最多（通话+消息）</th><th>非时段联系</th>"
            if messages else "<th>通话数</th><th>最早</th><th>最近</th><th>单日最多</th><th>非时段通话</th>")
    return (f'<table class="grid"><tr><th>对方号码</th>{head}<th>标记（未排除）</th></tr>{"".join(rows)}</table>')


def _call_table(calls: list[Mapping[str, Any]], flags: list[Mapping[str, Any]]) -> str:
    by_call: dict[str, Counter[str]] = defaultdict(Counter)
    for f in flags:
        if f.get("status") != "rejected":
            by_call[f.get("call_id") or ""][f["category"]] += 1
    rows = []
    for i, call in enumerate(calls, start=1):
        start = local_start(call.get("start_time"))
        chips = " ".join(
            f'<span class="chip" style="--c:{s.colour};--bg:{tint(s.colour)}">{escape(s.label)} × {n}</span>'
            for code, n in by_call[call["id"]].most_common() if (s := category_style(code)))
        if call.get("href"):
            link = f'<a href="{escape(call["href"])}">查看转写</a>'
            if call.get("damage"):  # a recording cut short: say so beside its transcript
                link += f' <span class="off-tag" title="{escape(call["damage"])}">{escape(call["damage"].split("：")[0])}</span>'
        else:
            link = f'<span class="muted">{escape(call.get("error") or "尚未转写")}</span>'
        when = f"{start:%Y-%m-%d %H:%M}" if start else "时间未知"
        off = ' <span class="off-tag">非时段</span>' if start and is_off_hours(start) else ""
        rows.append(f'<tr><td class="num">{i}</td><td>{when}{off}</td><td>{escape(call.get("number") or "号码未知")}</td>'
                    f'<td>{DIRECTION_LABELS.get(call.get("direction") or "", "未知")}</td>'
                    f'<td>{duration_zh(call.get("duration"))}</td><td>{chips or "—"}</td><td>{link}</td></tr>')
    return ('<table class="grid calls"><tr><th>#</th><th>时间</th><th>对方号码</th><th>方向</th><th>时长</th>'
            f'<th>标记（未排除）</th><th>转写</th></tr>{"".join(rows)}</table>')


def _unplaced(imported: int, items: list[Mapping[str, Any]] | None) -> str:
    """Why imported messages are missing from the timeline (none from a call's number, none flagged)."""
    if not imported or items:
        return ""
    return (f'<p class="muted">已导入 {imported} 条消息，但没有一条来自通话中的号码或被自动标记，所以不在时间轴上；'
            '逐条查看见下方“短信、聊天记录和截图”。</p>')


def render_case_index(calls: list[Mapping[str, Any]], flags: list[Mapping[str, Any]], *, title: str = "",
                      messages: IndexMessages | None = None, call_log: str = "") -> str:
    """The case overview page.

    ``calls``: dicts with id, number, contact_name, start_time (ISO; naive = phone-local),
    direction, duration, href (the call page relative to the index, None if there is none) and
    error. ``flags``: dicts with call_id, category, status. ``messages``: the case's message
    files, the messages shown beside the calls, their flags and the contacts-reached table.
    ``call_log``: the call-log charts and per-number table (``call_log_charts.call_log_section``).
    """
    messages = messages or IndexMessages()
    flagged = Counter(f.get("call_id") for f in flags if f.get("status") != "rejected")
    all_flags = [*flags, *messages.flags]
    total_flags = sum(1 for f in all_flags if f.get("status") != "rejected")
    pending = sum(1 for f in all_flags if (f.get("status") or "pending") == "pending")
    heading = title or "案件总览"
    imported = sum(f.get("total", 0) for f in messages.files)
    texts = (f"，{len(messages.files)} 个消息文件共导入 {imported} 条消息（收到 "
             f"{sum(f.get('received', 0) for f in messages.files)} 条，发出 {sum(f.get('sent', 0) for f in messages.files)} 条；"
             f"其中 {len(messages.items)} 条是涉案号码的来信）" if messages.files else "")
    numbers = {c.get("number") for c in calls} | {m.get("party") for m in messages.items}
    summary = (f"共 {len(calls)} 通电话{texts}，{len(numbers)} 个对方号码，"
               f"自动标记 {len(all_flags)} 处（未排除 {total_flags} 处，待复核 {pending} 处）。")
    items = messages.items or None
    sections = [
        f"<section><h2>{'通话与消息' if items else '通话'}时间轴（按日期和钟点）</h2>{_unplaced(imported, items)}"
        f"{timeline_svg(list(calls), flagged, items)}</section>",
        call_log,
        f"<section><h2>按类别统计的标记</h2>{_category_table(all_flags)}</section>",
        f"<section><h2>按对方号码统计</h2>{_number_table(list(calls), flagged, items)}</section>",
        f"<section><h2>全部通话</h2>{_call_table(list(calls), list(flags))}</section>",
    ]
    if messages.files:
        sections.append(f'<section id="messages"><h2>短信、聊天记录和截图</h2>{message_files_table(messages.files)}'
                        "</section>")
    if messages.contacts:
        sections.append(f'<section id="contacts"><h2>联系人被骚扰情况（谁接到了电话和消息）</h2>'
                        f"{contacts_table(messages.contacts)}</section>")
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(heading)}</title><style>{asset('page.css')}{asset('index.css')}</style></head><body>",
        f'<div class="page"><header class="top"><h1>{escape(heading)}</h1><p>{escape(summary)}</p>',
        f'<p class="notice" role="note">⚠ {MACHINE_NOTICE}。标记只是提示，须经人工复核。</p></header>',
        *sections,
        f"<footer><p>{escape(MACHINE_NOTICE)}</p></footer></div></body></html>\n",
    ])


def __getattr__(name: str) -> object:
    """``write_case_html`` lives in html_case (it needs the store); importable from here too, lazily
    (a top-level import would be circular)."""
    if name in ("write_case_html", "write_index_html"):
        from pipeline.render import html_case

        return getattr(html_case, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
