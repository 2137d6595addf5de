"""Call-log screens (MIUI, EMUI/HarmonyOS, ColorOS, OriginOS, iOS look-alikes) drawn with PIL from
known rows, with the truth of every row. Invented numbers only (138 0013 8xxx style test ranges).

Used by tests/test_calllog_screen.py and bench/eval_calllog_ocr.py. Needs a CJK font
(``tests.screenshot_fixtures.find_cjk_font``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

from tests.screenshot_fixtures import FontRef

STYLES = ("miui", "emui", "coloros", "originos", "ios")
RED = (230, 40, 40)


@dataclass
class CallRow:
    who: str  # number as shown ("138 0013 8001") or contact name
    type: str  # incoming | outgoing | missed | rejected | blocked
    time_label: str  # as the phone shows it: "22:31", "昨天", "星期三", "12月1日"
    count: int = 1
    place: str = "广东深圳"
    duration: str = ""  # "1分23秒" for answered calls


@dataclass
class RowTruth:
    row: CallRow
    expected_type: str  # what the screen conveys: icon-only styles show incoming/outgoing as 'unknown'
    box: tuple[int, int, int, int]


def _marks(style: str, row: CallRow) -> tuple[str, str]:
    """(secondary text, expected type) for a row in a style."""
    if style == "miui":
        word = {"missed": "响铃3声", "incoming": f"呼入 {row.duration}", "outgoing": f"呼出 {row.duration}",
                "rejected": "已拒接", "blocked": "已拦截"}[row.type]
        return f"{row.place} {word}".strip(), row.type
    if style == "emui":  # icon-only direction; missed in red; rejected/blocked say so
        word = {"rejected": " 已拒接", "blocked": " 已拦截"}.get(row.type, "")
        expected = row.type if row.type in ("missed", "rejected", "blocked") else "unknown"
        return f"{row.place} 中国移动{word}", expected
    if style == "coloros":
        word = {"missed": "未接来电", "incoming": f"来电 {row.duration}", "outgoing": f"去电 {row.duration}",
                "rejected": "已拒接", "blocked": "已拦截"}[row.type]
        return f"{word} · {row.place}", row.type
    if style == "originos":
        word = {"missed": "未接", "incoming": "呼入", "outgoing": "呼出", "rejected": "拒接", "blocked": "拦截"}[row.type]
        return f"{row.place} {word}", row.type
    # ios: 手机 under the name; missed in red; direction by icon only
    expected = "missed" if row.type == "missed" else "unknown"
    return ("手机" if row.who[0].isdigit() is False else "中国大陆"), expected


def render_call_log(rows: list[CallRow], font: FontRef, *, style: str = "miui", dark: bool = False,
                    size: tuple[int, int] = (1080, 2400)) -> tuple[Image.Image, list[RowTruth]]:
    width, height = size
    scale = width / 1080
    bg, fg, grey = ((0, 0, 0), (235, 235, 235), (140, 140, 140)) if dark else ((255, 255, 255), (25, 25, 25),
                                                                              (128, 128, 128))
    image = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(image)

    def face(px: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(font.path, round(px * scale), index=font.index)

    name_font, small, title_font = face(50), face(38), face(64)
    draw.text((round(60 * scale), round(30 * scale)), "10:35", fill=fg, font=small)
    draw.text((width - round(150 * scale), round(30 * scale)), "85%", fill=fg, font=small)
    title = {"miui": "通话记录", "emui": "电话", "coloros": "通话记录", "originos": "最近通话", "ios": "最近通话"}[style]
    draw.text((round(60 * scale), round(130 * scale)), title, fill=fg, font=title_font)
    if style == "ios":
        draw.text((width / 2 - round(200 * scale), round(230 * scale)), "所有通话", fill=fg, font=small)
        draw.text((width / 2 + round(60 * scale), round(230 * scale)), "未接来电", fill=fg, font=small)
    left = round((130 if style in ("emui", "ios") else 60) * scale)
    y = round(330 * scale)
    pitch = round(190 * scale)
    truths = []
    for row in rows:
        secondary, expected = _marks(style, row)
        colour = RED if row.type == "missed" and style in ("miui", "emui", "ios", "originos") else fg
        who = row.who + (f" ({row.count})" if row.count > 1 else "")
        if style in ("emui", "ios") and row.type != "missed":  # the direction icon: a small arrow, not text
            x, cy = round(60 * scale), y + round(40 * scale)
            draw.line([(x, cy + 20), (x + 30, cy - 10)], fill=grey, width=4)
            draw.line([(x + 30, cy - 10), (x + 12, cy - 10)] if row.type == "outgoing" else
                      [(x, cy + 20), (x + 18, cy + 20)], fill=grey, width=4)
        draw.text((left, y), who, fill=colour, font=name_font)
        draw.text((left, y + round(72 * scale)), secondary, fill=grey, font=small)
        label_x = width - round((170 if style == "ios" else 60) * scale)
        draw.text((label_x, y + round(45 * scale)), row.time_label, fill=grey, font=small, anchor="rm")
        if style == "ios":
            cx, cy, r = width - round(80 * scale), y + round(45 * scale), round(22 * scale)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(0, 122, 255), width=3)
        truths.append(RowTruth(row, expected, (0, y, width, y + pitch)))
        y += pitch
        draw.line([(left, y - round(25 * scale)), (width, y - round(25 * scale))], fill=(60, 60, 60) if dark else
                  (230, 230, 230), width=1)
        if y > height - round(330 * scale):
            raise ValueError("too many rows for one screenshot")
    bar = height - round(170 * scale)
    for i, word in enumerate(("拨号", "联系人", "收藏")):
        draw.text((round((180 + 360 * i) * scale), bar + round(60 * scale)), word, fill=grey, font=small, anchor="mm")
    return image, truths


def expected_start(row: CallRow, captured: datetime) -> tuple[datetime | None, str]:
    """The start the parser should give a row (via the production resolver) and its precision."""
    from pipeline.calllog.screen_times import resolve

    resolved = resolve(row.time_label, captured)
    return resolved.when, resolved.precision or ""
