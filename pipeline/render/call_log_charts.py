"""The call log at a glance (issue 15): calls per day (answered / unanswered, and how many of them
in the off-hours 22:00–08:00) and an hour-of-day x day grid, over every incoming call of the case,
recorded or known only from a call log; plus the per-number table.

``log_chart_data`` counts (a badge row "(3)" counts three calls; a row that shows only the day
counts per day, not in the grid); ``call_log_section`` draws both charts as inline SVG with
Chinese labels (no script, no network) for the case index and the pack index. The evidence list
(DOCX) gets the same charts as PNG from ``call_log_png``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

OFF_START, OFF_END = 22, 8  # [22:00, 08:00)
MAX_DAYS = 62  # longer logs: the busiest days only, said so
ANSWERED, UNANSWERED, OFF = "#2e8b57", "#c0392b", "#1f2d3d"
DAY_W, BAR_H, LEFT, TOP = 30, 150, 44, 22
CELL, GRID_LEFT = 22, 84


@dataclass
class LogChartData:
    days: list[date] = field(default_factory=list)
    answered: Counter = field(default_factory=Counter)  # day -> calls
    unanswered: Counter = field(default_factory=Counter)
    off_hours: Counter = field(default_factory=Counter)
    grid: Counter = field(default_factory=Counter)  # (day, hour) -> calls
    day_only: int = 0  # calls whose log shows only the day (not in the grid)
    unknown: int = 0  # calls without a time
    dropped_days: int = 0  # days left out of a long log

    @property
    def total(self) -> int:
        return sum(self.answered.values()) + sum(self.unanswered.values())

    def __bool__(self) -> bool:
        return bool(self.days)


def _local(call: Any) -> datetime | None:
    start = call.start
    if start is None:
        return None
    if start.tzinfo is not None:
        from pipeline.calls import local_zone

        start = start.astimezone(local_zone()).replace(tzinfo=None)
    return start


def is_off_hours(hour: int) -> bool:
    return hour >= OFF_START or hour < OFF_END


def log_chart_data(calls: list[Any], date_from: date | None = None, date_to: date | None = None) -> LogChartData:
    """Counts over the incoming (or unknown-direction) calls of ``pipeline.calllog.merge.LoggedCall``s."""
    data = LogChartData()
    for call in calls:
        if call.direction == "outgoing":
            continue
        start = _local(call)
        if start is None:
            data.unknown += call.count
            continue
        day = start.date()
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        (data.unanswered if call.connected is False else data.answered)[day] += call.count
        if call.time_precision == "day":
            data.day_only += call.count
            continue
        data.grid[(day, start.hour)] += call.count
        if is_off_hours(start.hour):
            data.off_hours[day] += call.count
    days = sorted(set(data.answered) | set(data.unanswered))
    if days and (days[-1] - days[0]).days < MAX_DAYS:
        days = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    elif len(days) > MAX_DAYS:
        busiest = sorted(days, key=lambda d: -(data.answered[d] + data.unanswered[d]))[:MAX_DAYS]
        data.dropped_days = len(days) - MAX_DAYS
        days = sorted(busiest)
    data.days = days
    return data


def _day_label(day: date) -> str:
    return f"{day.month}/{day.day}"


def per_day_svg(data: LogChartData) -> str:
    """Stacked bars per day: answered (green) under unanswered (red); a dark tick = off-hours calls."""
    most = max((data.answered[d] + data.unanswered[d] for d in data.days), default=1) or 1
    width, height = max(LEFT + len(data.days) * DAY_W + 10, LEFT + 3 * 150), TOP + BAR_H + 46
    scale = BAR_H / most
    parts = [f'<svg class="log-per-day" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="每天的来电次数：绿色为已接，红色为未接，黑色细条为22:00至次日08:00的来电">']
    for step in sorted({0, most // 2, most}):
        y = TOP + BAR_H - step * scale
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{width - 6}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{step}</text>')
    for i, day in enumerate(data.days):
        x = LEFT + i * DAY_W + 4
        answered, unanswered, off = data.answered[day], data.unanswered[day], data.off_hours[day]
        base = TOP + BAR_H
        title = f"{day.isoformat()}：已接 {answered} 次，未接 {unanswered} 次，其中 22:00–08:00 {off} 次"
        parts.append(f"<g><title>{escape(title)}</title>")
        if answered:
            parts.append(f'<rect x="{x}" y="{base - answered * scale:.1f}" width="{DAY_W - 8}" '
                         f'height="{answered * scale:.1f}" fill="{ANSWERED}"/>')
        if unanswered:
            top = base - (answered + unanswered) * scale
            parts.append(f'<rect x="{x}" y="{top:.1f}" width="{DAY_W - 8}" height="{unanswered * scale:.1f}" '
                         f'fill="{UNANSWERED}"/>')
        if off:
            parts.append(f'<rect x="{x + DAY_W - 8}" y="{base - off * scale:.1f}" width="3" height="{off * scale:.1f}" '
                         f'fill="{OFF}"/>')
        total = answered + unanswered
        if total:
            parts.append(f'<text x="{x + (DAY_W - 8) / 2}" y="{base - total * scale - 3:.1f}" text-anchor="middle" '
                         f'font-size="10">{total}</text>')
        parts.append(f'<text x="{x + (DAY_W - 8) / 2}" y="{base + 14}" text-anchor="middle" font-size="10">'
                     f"{_day_label(day)}</text></g>")
    legend_y = height - 12
    for j, (colour, label) in enumerate(((ANSWERED, "已接"), (UNANSWERED, "未接（含拒接、拦截）"),
                                         (OFF, "其中 22:00–08:00"))):
        x = LEFT + j * 150
        parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{legend_y}" font-size="11">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _shade(n: int, most: int) -> str:
    if not n:
        return "#ffffff"
    level = 0.25 + 0.75 * n / (most or 1)
    return f"rgba(192,57,43,{level:.2f})"


def hour_grid_svg(data: LogChartData) -> str:
    """Rows = days, columns = hours 0–23; a cell's colour and number = calls in that hour."""
    most = max(data.grid.values(), default=1)
    width, height = GRID_LEFT + 24 * CELL + 6, TOP + len(data.days) * CELL + 6
    parts = [f'<svg class="log-grid" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="钟点 × 日期：每格是该日该小时的来电次数，22:00至08:00的列加灰底">']
    for hour in range(24):
        x = GRID_LEFT + hour * CELL
        if is_off_hours(hour):
            parts.append(f'<rect x="{x}" y="{TOP}" width="{CELL}" height="{len(data.days) * CELL}" fill="#eceff3"/>')
        parts.append(f'<text x="{x + CELL / 2}" y="{TOP - 6}" text-anchor="middle" font-size="10">{hour}</text>')
    for row, day in enumerate(data.days):
        y = TOP + row * CELL
        parts.append(f'<text x="{GRID_LEFT - 6}" y="{y + CELL * 0.7:.1f}" text-anchor="end" font-size="11">'
                     f"{day.isoformat()}</text>")
        for hour in range(24):
            n = data.grid[(day, hour)]
            if not n:
                continue
            x = GRID_LEFT + hour * CELL
            parts.append(f'<g><title>{escape(f"{day.isoformat()} {hour}:00–{hour}:59 来电 {n} 次")}</title>'
                         f'<rect x="{x + 1}" y="{y + 1}" width="{CELL - 2}" height="{CELL - 2}" fill="{_shade(n, most)}"/>'
                         f'<text x="{x + CELL / 2}" y="{y + CELL * 0.7:.1f}" text-anchor="middle" font-size="10" '
                         f'fill="{"#fff" if n * 2 > most else "#222"}">{n}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def notes(data: LogChartData) -> list[str]:
    out = []
    if data.day_only:
        out.append(f"{data.day_only} 次来电的记录只显示日期（如通话记录截图上的“昨天”），计入每天次数，不在钟点表中。")
    if data.unknown:
        out.append(f"{data.unknown} 次来电时间未知，未计入图中。")
    if data.dropped_days:
        out.append(f"记录跨度较长，只画出来电最多的 {len(data.days)} 天（另有 {data.dropped_days} 天未画出）。")
    return out


def number_table(numbers: list[dict[str, Any]], text: Any = str) -> str:
    """The per-number table of the call-log digest (``pipeline.calllog.rules.log_digest``)."""
    if not numbers:
        return ""
    rows = "".join(f'<tr><td>{escape(text(n["number"]))}</td><td class="num">{n["calls"]}</td>'
                   f'<td class="num">{n["answered"]}</td><td class="num">{n["unanswered"]}</td>'
                   f'<td class="num">{n["recorded"]}</td><td>{escape(str(n["first"]))}</td>'
                   f'<td>{escape(str(n["last"]))}</td></tr>' for n in numbers)
    return ('<table class="grid log-numbers"><thead><tr><th>号码</th><th>来电</th><th>已接</th><th>未接</th>'
            f"<th>有录音</th><th>最早</th><th>最晚</th></tr></thead><tbody>{rows}</tbody></table>")


def call_log_section(data: LogChartData, numbers: list[dict[str, Any]] | None = None, text: Any = str) -> str:
    """The HTML section: summary line, calls per day, hour x day grid, notes, per-number table."""
    if not data:
        return ""
    unanswered, off = sum(data.unanswered.values()), sum(data.off_hours.values())
    summary = (f"共 {data.total} 次来电（含只在通话记录里、没有录音的），其中未接 {unanswered} 次，"
               f"22:00–08:00 {off} 次，分布在 {len(data.days)} 天。")
    extra = "".join(f'<p class="muted">{escape(line)}</p>' for line in notes(data))
    table = number_table(numbers or [], text)
    return ('<section id="call-log"><h2>通话记录统计（全部来电，含未接和没有录音的）</h2>'
            f"<p>{escape(summary)}</p><h3>每天的来电次数</h3>"
            f'<div style="overflow-x:auto">{per_day_svg(data)}</div><h3>钟点 × 日期（每格为该小时的来电次数）</h3>'
            f'<div style="overflow-x:auto">{hour_grid_svg(data)}</div>{extra}'
            + (f"<h3>按号码统计</h3>{table}" if table else "") + "</section>")
