"""The call-log charts of ``call_log_charts`` as PNG for the evidence list (DOCX): Word and WPS do
not all show SVG. Only digits are drawn in the image (dates, hours, counts), with Pillow's own
font, so no CJK font is needed on the machine; the Chinese legend is written beside the picture in
the document (``LEGEND_PER_DAY``, ``LEGEND_GRID``). Same input, same bytes (no PNG metadata)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from pipeline.render.call_log_charts import ANSWERED, OFF, UNANSWERED, LogChartData, is_off_hours

LEGEND_PER_DAY = "每天的来电次数：绿色为已接，红色为未接（含拒接、拦截），柱右侧黑色细条为其中 22:00–08:00 的来电；柱顶数字为当天来电总数。"
LEGEND_GRID = "钟点 × 日期：每行一天，每列一个小时（0–23 点），格中数字为该小时的来电次数，颜色越深越多；灰底列为 22:00–08:00。"
SCALE = 2  # drawn at twice the size for a sharp print


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def per_day_png(data: LogChartData) -> bytes:
    s = SCALE
    font = ImageFont.load_default(10 * s)
    day_w, bar_h, left, top = 30 * s, 150 * s, 40 * s, 16 * s
    width, height = max(left + len(data.days) * day_w + 10 * s, 240 * s), top + bar_h + 22 * s
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    most = max((data.answered[d] + data.unanswered[d] for d in data.days), default=1) or 1
    scale = bar_h / most
    base = top + bar_h
    for step in sorted({0, most // 2, most}):
        y = base - step * scale
        draw.line([(left - 4 * s, y), (width - 6 * s, y)], fill=(221, 221, 221), width=1)
        draw.text((left - 8 * s, y), str(step), fill="black", font=font, anchor="rm")
    bar = day_w - 8 * s
    for i, day in enumerate(data.days):
        x = left + i * day_w + 4 * s
        answered, unanswered, off = data.answered[day], data.unanswered[day], data.off_hours[day]
        if answered:
            draw.rectangle([x, base - answered * scale, x + bar, base], fill=_rgb(ANSWERED))
        if unanswered:
            draw.rectangle([x, base - (answered + unanswered) * scale, x + bar, base - answered * scale],
                           fill=_rgb(UNANSWERED))
        if off:
            draw.rectangle([x + bar, base - off * scale, x + bar + 3 * s, base], fill=_rgb(OFF))
        if answered + unanswered:
            draw.text((x + bar / 2, base - (answered + unanswered) * scale - 2 * s), str(answered + unanswered),
                      fill="black", font=font, anchor="mb")
        draw.text((x + bar / 2, base + 4 * s), f"{day.month}/{day.day}", fill="black", font=font, anchor="mt")
    return _png(image)


def hour_grid_png(data: LogChartData) -> bytes:
    s = SCALE
    font = ImageFont.load_default(10 * s)
    cell, left, top = 22 * s, 80 * s, 18 * s
    width, height = left + 24 * cell + 6 * s, top + len(data.days) * cell + 6 * s
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    most = max(data.grid.values(), default=1)
    for hour in range(24):
        x = left + hour * cell
        if is_off_hours(hour):
            draw.rectangle([x, top, x + cell, top + len(data.days) * cell], fill=(236, 239, 243))
        draw.text((x + cell / 2, top - 4 * s), str(hour), fill="black", font=font, anchor="mb")
    for row, day in enumerate(data.days):
        y = top + row * cell
        draw.text((left - 6 * s, y + cell / 2), day.isoformat(), fill="black", font=font, anchor="rm")
        for hour in range(24):
            n = data.grid[(day, hour)]
            if not n:
                continue
            x = left + hour * cell
            level = 0.25 + 0.75 * n / (most or 1)
            colour = tuple(round(255 - (255 - c) * level) for c in _rgb(UNANSWERED))
            draw.rectangle([x + s, y + s, x + cell - s, y + cell - s], fill=colour)
            draw.text((x + cell / 2, y + cell / 2), str(n), fill="white" if n * 2 > most else "black", font=font,
                      anchor="mm")
    return _png(image)
