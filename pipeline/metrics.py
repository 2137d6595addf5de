"""Character error rate, the accuracy figure for Mandarin ASR."""

from __future__ import annotations

import re

from pipeline.text import normalize, strip_punctuation

DIGITS = "零一二三四五六七八九"
# digits, with thousands commas (2,640) and a decimal part (1.5) inside, a percent sign after; any other
# comma between digits is punctuation
_NUMBER = re.compile(r"\d+(?:,\d{3}(?!\d))*(?:\.\d+)?%?")
_DIGIT_BY_DIGIT_LENGTH = 7  # phone numbers, account and ID numbers are read digit by digit


def edit_distance(ref: str, hyp: str) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def _below_ten_thousand(n: int) -> str:
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            out += ("零" if zero and out else "") + DIGITS[digit] + unit
            zero = False
        else:
            zero = True
    return out


def cardinal(n: int) -> str:
    """A whole number as it is read: 28 → 二十八, 2640 → 二千六百四十, 10500 → 一万零五百, 12 → 十二."""
    if n == 0:
        return "零"
    parts = []
    for value, unit in ((10**8, "亿"), (10**4, "万"), (1, "")):
        group = n // value % 10**4 if value < 10**8 else n // value
        if group:
            if parts and group < 1000 and parts[-1] != "零":
                parts.append("零")
            parts.append((cardinal(group) if group >= 10**4 else _below_ten_thousand(group)) + unit)
        elif parts and n % value and parts[-1] != "零":
            parts.append("零")
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


def read_numbers(text: str) -> str:
    """Digits as a speaker reads them: ``合同号082647`` → 合同号零八二六四七, ``500`` → 五百, ``28号`` →
    二十八号, ``1.5`` → 一点五, ``50%`` → 百分之五十. 两 and 幺 become 二 and 一 (the same digit).

    Whisper writes a number in digits in one window and in characters in the next, and transcripts
    of phone calls are written in characters: comparing both sides in this form counts a number
    heard right as right, however it was written. A run with a leading zero, of 7+ digits, or before
    年 is read digit by digit (codes, phone numbers, years)."""

    def spoken(match: re.Match[str]) -> str:
        number = match.group(0)
        percent = number.endswith("%")
        number = number.rstrip("%").replace(",", "")
        out = []
        for k, chunk in enumerate(number.split(".")):
            if k:
                out.append("点")
            whole = k == 0 and not (chunk.startswith("0") and len(chunk) > 1) and len(chunk) < _DIGIT_BY_DIGIT_LENGTH
            if whole and text[match.end() : match.end() + 1] == "年" and len(chunk) == 4:
                whole = False
            out.append(cardinal(int(chunk)) if whole else "".join(DIGITS[int(d)] for d in chunk))
        return ("百分之" if percent else "") + "".join(out)

    return _NUMBER.sub(spoken, text).replace("两", "二").replace("幺", "一")


def cer_text(text: str, numbers: bool = False) -> str:
    """The form both sides are compared in: Simplified, half-width, no punctuation or spaces;
    with ``numbers``, digits read out as characters too (read_numbers)."""
    text = normalize(text).text
    if numbers:
        text = read_numbers(text)
    return strip_punctuation(text).replace(" ", "").lower()


def cer(ref: str, hyp: str, numbers: bool = False) -> float:
    r, h = cer_text(ref, numbers), cer_text(hyp, numbers)
    return edit_distance(r, h) / max(1, len(r))


def corpus_cer(pairs: list[tuple[str, str]], numbers: bool = False) -> float:
    """Total edits over total reference characters (not the mean of per-clip CERs)."""
    compared = [(cer_text(r, numbers), cer_text(h, numbers)) for r, h in pairs]
    return sum(edit_distance(r, h) for r, h in compared) / max(1, sum(len(r) for r, _ in compared))
