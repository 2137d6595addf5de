"""Text normalisation with an offset map, and Whisper hallucination detection.

`normalize()` converts Traditional to Simplified (OpenCC t2s), full-width ASCII to
half-width, and collapses whitespace, while recording for every output character the
index of the raw character it came from, so word times survive normalisation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import opencc

# Subtitle credits and sign-offs Whisper invents on silence or noise (seen on Mandarin audio).
HALLUCINATION_PHRASES = (
    "字幕由Amara.org社区提供",
    "字幕由Amara",
    "Amara.org",
    "请不吝点赞",
    "点赞 订阅 转发 打赏",
    "点赞订阅转发打赏",
    "订阅 转发",
    "明镜与点点栏目",
    "感谢观看",
    "谢谢观看",
    "谢谢大家观看",
    "优优独播剧场",
    "YoYo Television Series Exclusive",
    "中文字幕志愿者",
    "字幕志愿者",
    "字幕制作",
    "索兰娅",
    "by索兰娅",
    "本字幕由",
    "以下是普通话的电话录音",
)

_PUNCT = set("，。！？、；：,.!?;:\"'“”‘’（）()《》<>【】[]…—-~·「」『』 \t\n")


@dataclass
class NormalizedText:
    text: str
    source_index: list[int]  # for each char of text, the index of the raw char it came from


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def _fold_width(ch: str) -> str:
    code = ord(ch)
    if code == 0x3000:
        return " "
    # Full-width ASCII letters, digits and ASCII punctuation; CJK punctuation (，。) is kept.
    if 0xFF01 <= code <= 0xFF5E:
        folded = chr(code - 0xFEE0)
        if folded.isalnum() or folded in "%+-./:@#&*=_":
            return folded
    return ch


def normalize(raw: str) -> NormalizedText:
    """Simplified, half-width, single-spaced text with a map back to ``raw`` indices."""
    simplified = to_simplified(raw)
    if len(simplified) != len(raw):
        # Phrase conversion changed the length: convert char by char to keep the map exact.
        simplified = "".join(to_simplified(ch) if len(to_simplified(ch)) == 1 else ch for ch in raw)
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(simplified):
        ch = _fold_width(unicodedata.normalize("NFC", ch)) if len(ch) == 1 else ch
        if ch.isspace():
            # Keep a single space only between two Latin/digit runs; drop it inside Chinese.
            if out and out[-1] != " " and out[-1].isascii() and out[-1].isalnum():
                out.append(" ")
                index.append(i)
            continue
        if out and out[-1] == " " and not (ch.isascii() and ch.isalnum()):
            out.pop()
            index.pop()
        out.append(ch)
        index.append(i)
    if out and out[-1] == " ":
        out.pop()
        index.pop()
    return NormalizedText("".join(out), index)


def strip_punctuation(text: str) -> str:
    return "".join(ch for ch in text if ch not in _PUNCT and not unicodedata.category(ch).startswith("P"))


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def is_hallucination(text: str) -> bool:
    """True for known subtitle-credit phrases and prompt echoes."""
    compact = re.sub(r"\s+", "", text)
    return any(re.sub(r"\s+", "", phrase) in compact for phrase in HALLUCINATION_PHRASES)


def repetition_ratio(text: str, max_unit: int = 8) -> float:
    """Share of ``text`` covered by the longest immediately repeated unit (loop detector)."""
    compact = strip_punctuation(text)
    n = len(compact)
    if n < 8:
        return 0.0
    best = 0
    for unit in range(1, max_unit + 1):
        i = 0
        while i + unit <= n:
            piece = compact[i : i + unit]
            j = i + unit
            while compact[j : j + unit] == piece:
                j += unit
            repeats = (j - i) // unit
            if repeats >= 3:
                best = max(best, j - i)
                i = j
            else:
                i += 1
    return best / n
