"""Chat / SMS screenshots drawn with PIL from known text, with the truth of every bubble.

Used by tests/test_ocr.py and bench/eval_ocr.py. Needs a CJK font: the Noto CJK fonts of
Debian's ``fonts-noto-cjk`` (or WenQuanYi Zen Hei of ``fonts-wqy-zenhei``); ``find_cjk_font``
returns None when neither is installed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_CANDIDATES = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"),
]
APT_LINE = "apt-get install -y fonts-noto-cjk"

THEMES = {
    # background, received bubble, sent bubble, text on received, text on sent, grey (times/title)
    "light": ("#EDEDED", "#FFFFFF", "#95EC69", "#191919", "#191919", "#9E9E9E"),
    "dark": ("#111111", "#2C2C2C", "#3EB575", "#D5D5D5", "#0F0F0F", "#7A7A7A"),
}


@dataclass(frozen=True)
class FontRef:
    path: str
    index: int


def find_cjk_font() -> FontRef | None:
    """A font with Simplified Chinese glyphs (face index for .ttc collections), or None."""
    paths = [p for p, _ in FONT_CANDIDATES if Path(p).exists()]
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        paths += [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    for path in paths:
        for index in range(8):
            try:
                font = ImageFont.truetype(path, 20, index=index)
            except OSError:
                break
            family = font.getname()[0]
            if "SC" in family or "WenQuanYi" in family or "Hei" in family:
                return FontRef(path, index)
    return None


@dataclass
class Bubble:
    side: str  # "left" (received) | "right" (sent)
    text: str
    time_label: str | None = None  # a centred time line drawn above the bubble ("昨天 22:31")


@dataclass
class BubbleTruth:
    side: str
    text: str
    lines: list[str]
    box: tuple[int, int, int, int]  # bubble rectangle x0, y0, x1, y1
    line_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


@dataclass
class Screenshot:
    image: Image.Image
    bubbles: list[BubbleTruth]
    title: str
    time_labels: list[str]


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, current = [], ""
    for char in text:
        if draw.textlength(current + char, font=font) > width and current:
            lines.append(current)
            current = char
        else:
            current += char
    return [*lines, current] if current else lines


def render_chat(bubbles: list[Bubble], font: FontRef, *, theme: str = "light", size: tuple[int, int] = (1080, 2400),
                title: str = "138 0013 8000", clock: str = "22:35") -> Screenshot:
    """A WeChat-like thread: status bar, title, avatars, bubbles left/right, centred times, input bar."""
    width, height = size
    scale = width / 1080
    bg, left_bg, right_bg, left_fg, right_fg, grey = THEMES[theme]
    image = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(image)
    body = ImageFont.truetype(font.path, round(50 * scale), index=font.index)
    small = ImageFont.truetype(font.path, round(36 * scale), index=font.index)
    heading = ImageFont.truetype(font.path, round(52 * scale), index=font.index)

    draw.text((round(60 * scale), round(30 * scale)), clock, fill=left_fg, font=small)
    draw.text((width - round(150 * scale), round(30 * scale)), "85%", fill=left_fg, font=small)
    draw.text((width / 2, round(170 * scale)), title, fill=left_fg, font=heading, anchor="mm")
    draw.line([(0, round(240 * scale)), (width, round(240 * scale))], fill=grey, width=1)

    avatar, margin, pad = round(120 * scale), round(30 * scale), round(30 * scale)
    text_max = round(width * 0.62)
    line_h = round(72 * scale)
    y = round(290 * scale)
    truths, labels = [], []
    for bubble in bubbles:
        if bubble.time_label:
            draw.text((width / 2, y + round(25 * scale)), bubble.time_label, fill=grey, font=small, anchor="mm")
            labels.append(bubble.time_label)
            y += round(90 * scale)
        lines = _wrap(draw, bubble.text, body, text_max)
        text_w = max(round(draw.textlength(line, font=body)) for line in lines)
        box_w, box_h = text_w + 2 * pad, len(lines) * line_h + 2 * pad - round(14 * scale)
        if bubble.side == "left":
            draw.rounded_rectangle([margin, y, margin + avatar, y + avatar], 12, fill="#5B8FF9")
            x0 = margin + avatar + round(25 * scale)
        else:
            draw.rounded_rectangle([width - margin - avatar, y, width - margin, y + avatar], 12, fill="#F6BD16")
            x0 = width - margin - avatar - round(25 * scale) - box_w
        box = (x0, y, x0 + box_w, y + box_h)
        draw.rounded_rectangle(box, round(14 * scale), fill=left_bg if bubble.side == "left" else right_bg)
        line_boxes = []
        for i, line in enumerate(lines):
            ty = y + pad + i * line_h
            draw.text((x0 + pad, ty), line, fill=left_fg if bubble.side == "left" else right_fg, font=body)
            line_boxes.append(tuple(round(v) for v in draw.textbbox((x0 + pad, ty), line, font=body)))
        truths.append(BubbleTruth(bubble.side, bubble.text, lines, box, line_boxes))
        y += max(box_h, avatar) + round(40 * scale)
        if y > height - round(330 * scale):
            raise ValueError("too many bubbles for one screenshot")

    bar_top = height - round(190 * scale)
    draw.rectangle([0, bar_top, width, height], fill="#F7F7F7" if theme == "light" else "#1E1E1E")
    draw.rounded_rectangle([round(130 * scale), bar_top + round(35 * scale), width - round(220 * scale),
                            bar_top + round(125 * scale)], 10, fill="#FFFFFF" if theme == "light" else "#2C2C2C")
    draw.rounded_rectangle([width - round(190 * scale), bar_top + round(40 * scale), width - round(40 * scale),
                            bar_top + round(120 * scale)], 10, fill="#07C160")
    draw.text((width - round(115 * scale), bar_top + round(80 * scale)), "发送", fill="#FFFFFF", font=small, anchor="mm")
    return Screenshot(image, truths, title, labels)
