"""OCR lines of a chat / SMS screenshot -> message bubbles (left = received, right = sent).

Layout rules (portrait phone screenshots; fractions of the image width W / height H):
- chrome: on full-screen shots (H >= 1.5 W) lines in the top 10.5 % (status bar, title) and the
  bottom 7.5 % (input bar) are not messages; the title (the centred header line) names the
  counterpart — a phone number there becomes the messages' number;
- centred lines (|centre - W/2| < 0.1 W, clear of both edges) are separators: a time label
  (``22:31``, ``昨天 22:31``, ``2024年1月15日 22:31``) dates the bubbles below it; other centred
  lines ("以下为新消息", "对方撤回了一条消息") are kept as notes, not messages;
- a bubble is a run of lines with the same left edge (text in bubbles is left-aligned) and a
  vertical gap under 0.6 line heights;
- side: the bubble's free margin — a bubble hugging the left edge (right margin larger by
  > 6 % W) is received, hugging the right edge is sent. Near-full-width bubbles take the side
  whose fill colour matches the bubbles already placed on that side (or differs clearly from
  the one side placed), else the fill's saturation: saturated (WeChat green, QQ / SMS blue) =
  sent, neutral (white / grey) = received; without colour, the edge they line up with.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from pipeline.messages.model import OcrLine
from pipeline.messages.times import is_time_label, resolve_label

TOP_CHROME, BOTTOM_CHROME, STATUS_BAR = 0.105, 0.925, 0.045
CENTRE_TOL, SIDE_MARGIN, ANCHOR_TOL, SAME_EDGE = 0.10, 0.06, 0.01, 0.03
COLOUR_GAP = 30.0  # summed RGB distance that makes one side's bubble colour clearly closer
LINE_GAP = 0.6
SENT_SATURATION = 0.25


@dataclass
class Bubble:
    lines: list[OcrLine]
    side: str | None = None  # left | right | None (could not tell)
    side_reason: str = ""
    time: datetime | None = None
    time_text: str | None = None

    @property
    def rect(self) -> tuple[float, float, float, float]:
        rects = [line.rect for line in self.lines]
        return (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects))


@dataclass
class Layout:
    bubbles: list[Bubble]
    title: str | None = None
    chrome: list[OcrLine] = field(default_factory=list)
    separators: list[OcrLine] = field(default_factory=list)


def join_lines(texts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Wrapped lines of one bubble as one text (no space between CJK lines) and each line's span."""
    out, spans = "", []
    for text in texts:
        if out and text and out[-1].isascii() and out[-1].isalnum() and text[0].isascii() and text[0].isalnum():
            out += " "
        spans.append((len(out), len(out) + len(text)))
        out += text
    return out, spans


def _centred(line: OcrLine, width: int) -> bool:
    x0, _, x1, _ = line.rect
    return abs((x0 + x1) / 2 - width / 2) < CENTRE_TOL * width and x0 > 0.22 * width and x1 < 0.78 * width


def _fill(image: np.ndarray | None, bubble: Bubble) -> np.ndarray | None:
    """The bubble's fill colour, sampled in the padding left of its text."""
    if image is None:
        return None
    x0, y0, _, y1 = (int(v) for v in bubble.rect)
    strip = image[max(0, y0): max(y0 + 1, y1), max(0, x0 - 14): max(1, x0 - 4)]
    if strip.size == 0:
        return None
    return np.median(strip.reshape(-1, strip.shape[-1])[:, :3], axis=0).astype(float)


def _saturation(colour: np.ndarray) -> float:
    top = float(colour.max())
    return 0.0 if top <= 0 else (top - float(colour.min())) / top


def _decide_sides(bubbles: list[Bubble], width: int, image: np.ndarray | None) -> None:
    """Margin first; then, for near-full-width bubbles, colour; last the edge they line up with."""
    for bubble in bubbles:
        x0, _, x1, _ = bubble.rect
        left_margin, right_margin = x0, width - x1
        if right_margin - left_margin > SIDE_MARGIN * width:
            bubble.side, bubble.side_reason = "left", "margin"
        elif left_margin - right_margin > SIDE_MARGIN * width:
            bubble.side, bubble.side_reason = "right", "margin"
    fills = {id(b): _fill(image, b) for b in bubbles}
    reference = {}
    for side in ("left", "right"):
        known = [fills[id(b)] for b in bubbles if b.side == side and fills[id(b)] is not None]
        reference[side] = np.median(np.stack(known), axis=0) if known else None
    lefts = [b.rect[0] for b in bubbles if b.side == "left"]
    rights = [b.rect[2] for b in bubbles if b.side == "right"]
    left_anchor = statistics.median(lefts) if lefts else None
    right_anchor = statistics.median(rights) if rights else None
    for bubble in bubbles:
        if bubble.side:
            continue
        bubble.side, bubble.side_reason = _by_colour(fills[id(bubble)], reference)
        if bubble.side:
            continue
        x0, _, x1, _ = bubble.rect
        near_left = left_anchor is not None and abs(x0 - left_anchor) < ANCHOR_TOL * width
        near_right = right_anchor is not None and abs(x1 - right_anchor) < ANCHOR_TOL * width
        if near_left != near_right:
            bubble.side, bubble.side_reason = ("left" if near_left else "right"), "aligned"


def _by_colour(fill: np.ndarray | None, reference: dict[str, np.ndarray | None]) -> tuple[str | None, str]:
    """The side whose placed bubbles share this fill; with one side placed, same fill = that
    side and a clearly different fill = the other; with none, saturated = sent."""
    if fill is None:
        return None, ""
    distance = {side: float(np.abs(fill - ref).sum()) for side, ref in reference.items() if ref is not None}
    if len(distance) == 2 and abs(distance["left"] - distance["right"]) > COLOUR_GAP:
        return min(distance, key=distance.__getitem__), "colour"
    if len(distance) == 1:
        [(side, gap)] = distance.items()
        if gap < COLOUR_GAP:
            return side, "colour"
        if gap > 3 * COLOUR_GAP:
            return ("left" if side == "right" else "right"), "colour"
    return ("right" if _saturation(fill) > SENT_SATURATION else "left"), "saturation"


def build_layout(lines: list[OcrLine], width: int, height: int, *, image: np.ndarray | None = None,
                 captured: datetime | None = None) -> Layout:
    """Bubbles in reading order, each with its side and (when a time label dates it) time.

    ``image``: the screenshot as an RGB array (for the bubble colour); ``captured``: when the
    screenshot was taken (resolves ``昨天 22:31``-style labels).
    """
    full_screen = height >= 1.5 * width
    ordered = sorted(lines, key=lambda item: ((item.rect[1] + item.rect[3]) / 2, item.rect[0]))
    layout = Layout(bubbles=[])
    heights = [line.rect[3] - line.rect[1] for line in ordered] or [1.0]
    line_height = statistics.median(heights)
    label: tuple[datetime | None, str] | None = None
    current: Bubble | None = None
    for line in ordered:
        x0, y0, x1, y1 = line.rect
        if full_screen and (y1 < TOP_CHROME * height or y0 > BOTTOM_CHROME * height):
            layout.chrome.append(line)
            continue
        if _centred(line, width):
            layout.separators.append(line)
            if is_time_label(line.text):
                label = (resolve_label(line.text, captured), line.text)
            current = None
            continue
        if current is not None:
            prev = current.lines[-1].rect
            if y0 - prev[3] < LINE_GAP * line_height and abs(x0 - prev[0]) < SAME_EDGE * width:
                current.lines.append(line)
                continue
        current = Bubble([line], time=label[0] if label else None, time_text=label[1] if label else None)
        layout.bubbles.append(current)
    _decide_sides(layout.bubbles, width, image)
    header = [c for c in layout.chrome if c.rect[1] < TOP_CHROME * height and c.rect[3] > STATUS_BAR * height]
    if header:
        layout.title = min(header, key=lambda c: abs((c.rect[0] + c.rect[2]) / 2 - width / 2)).text
    return layout
