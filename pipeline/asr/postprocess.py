"""Engine-agnostic clean-up: raw Whisper segments → normalised segments with per-character times.

Whisper's word pieces are 1–3 characters with punctuation attached ('钱,'); each character
gets an interpolated share of its piece's time. Known hallucinations, repetition loops and
silent low-confidence segments are dropped and reported, never silently lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from pipeline.asr.base import DecodeOptions, RawPiece, RawSegment
from pipeline.text import (
    _PUNCT,
    is_cjk,
    is_hallucination,
    normalize,
    repetition_ratio,
    strip_punctuation,
)
from pipeline.transcript import Segment, Word

PAUSE_SPLIT_SECONDS = 1.0


@dataclass
class CleanResult:
    segments: list[Segment] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)


def _is_punct(ch: str) -> bool:
    return ch in _PUNCT or not strip_punctuation(ch)


def echoes_prompt(text: str, prompt: str | None, min_chars: int = 5) -> bool:
    """Whisper repeating its own prompt ("…使用简体中文。") on audio it cannot make out."""
    if not prompt:
        return False
    said, asked = strip_punctuation(text), strip_punctuation(prompt)
    return any(said[i : i + min_chars] in asked for i in range(len(said) - min_chars + 1))


def _mostly_timeless(pieces: list[RawPiece]) -> bool:
    """Most words squeezed into no time: Whisper decoding past the end of speech, not speech."""
    if len(pieces) < 3:
        return False
    timeless = sum(1 for p in pieces if p.end - p.start < 0.02)
    return timeless / len(pieces) >= 0.5


def dedupe_piece_loops(pieces: list[RawPiece], keep: int = 2, max_unit: int = 6, loop: int | None = None) -> list[RawPiece]:
    """Cut a run of pieces repeated more than ``loop`` (default ``keep``) times in a row (Whisper
    decoding loops) down to ``keep`` repetitions."""
    loop = keep if loop is None else loop
    key = [strip_punctuation(p.text).strip() for p in pieces]
    out: list[int] = []
    i = 0
    n = len(pieces)
    while i < n:
        advanced = False
        for unit in range(1, max_unit + 1):
            block = key[i : i + unit]
            if len(block) < unit or not "".join(block):
                continue
            j = i + unit
            repeats = 1
            while key[j : j + unit] == block:
                j += unit
                repeats += 1
            if repeats > loop:
                out.extend(range(i, i + unit * keep))
                i = j
                advanced = True
                break
        if not advanced:
            out.append(i)
            i += 1
    return [pieces[k] for k in out]


def _char_times(pieces: list[RawPiece], seg: RawSegment) -> tuple[str, list[tuple[float, float, float]]]:
    """Raw text and (start, end, probability) for each raw character."""
    if not pieces:
        text = seg.text.strip()
        speakable = [c for c in text if not c.isspace() and not _is_punct(c)] or [" "]
        step = (seg.end - seg.start) / len(speakable)
        times, k = [], 0
        for ch in text:
            t0 = seg.start + step * min(k, len(speakable) - 1)
            times.append((t0, t0 + step, 1.0))
            if not ch.isspace() and not _is_punct(ch):
                k += 1
        return text, times

    chars: list[str] = []
    times: list[tuple[float, float, float]] = []
    for p_index, piece in enumerate(pieces):
        text = piece.text.lstrip() if p_index == 0 else piece.text
        speakable = [c for c in text if not c.isspace() and not _is_punct(c)]
        count = max(1, len(speakable))
        step = max(0.0, piece.end - piece.start) / count
        k = 0
        last_end = piece.start
        for ch in text:
            if ch.isspace() or _is_punct(ch):
                times.append((last_end, last_end, piece.probability))
            else:
                start = piece.start + step * k
                last_end = start + step
                times.append((start, last_end, piece.probability))
                k += 1
            chars.append(ch)
    return "".join(chars), times


def _words_of(text: str, source_index: list[int], times: list[tuple[float, float, float]]) -> list[Word]:
    words: list[Word] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or _is_punct(ch):
            i += 1
            continue
        j = i + 1
        if not is_cjk(ch) and ch.isalnum():
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] in "'.-%") and not is_cjk(text[j]):
                j += 1
        span = [times[source_index[k]] for k in range(i, j)]
        words.append(
            Word(
                text=text[i:j],
                start=round(span[0][0], 3),
                end=round(span[-1][1], 3),
                probability=round(min(t[2] for t in span), 4),
                offset=i,
            )
        )
        i = j
    return words


def split_at_pauses(
    text: str, source_index: list[int], raw_text: str, words: list[Word], gap: float = PAUSE_SPLIT_SECONDS
) -> list[tuple[str, str, list[Word]]]:
    """Split one segment where the speech pauses for ``gap`` seconds or more.

    VAD merges nearby speech into one Whisper window, so a single segment can hold several
    turns; cutting at pauses keeps turns apart (and gives speaker assignment cleaner units).
    Returns (text, raw_text, words re-offset to the part) per part.
    """
    cuts = [w.offset for prev, w in zip(words, words[1:], strict=False) if w.start - prev.end >= gap]
    if not cuts:
        return [(text, raw_text, words)]
    parts = []
    bounds = [0, *cuts, len(text)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        lead = len(text[a:b]) - len(text[a:b].lstrip("".join(_PUNCT)))
        a += lead
        raw_a = source_index[a] if a < len(source_index) else len(raw_text)
        raw_b = source_index[b] if b < len(source_index) else len(raw_text)
        part_words = [replace(w, offset=w.offset - a) for w in words if a <= w.offset < b]
        parts.append((text[a:b], raw_text[raw_a:raw_b], part_words))
    return [p for p in parts if p[0]]


def clean_segments(raw_segments: Iterable[RawSegment], options: DecodeOptions, offset: float = 0.0) -> CleanResult:
    """Filter and normalise raw segments; ``offset`` shifts times (seconds) into the original recording."""
    result = CleanResult()
    for seg in raw_segments:
        reason = None
        if is_hallucination(seg.text):
            reason = "hallucination_phrase"
        elif _mostly_timeless(seg.pieces):
            reason = "zero_duration_words"
        elif echoes_prompt(seg.text, options.initial_prompt):
            reason = "prompt_echo"
        elif seg.no_speech_prob > options.no_speech_threshold and seg.avg_logprob < options.log_prob_threshold:
            reason = "no_speech_low_logprob"
        if reason is None:
            # U+FFFD: a byte-level token that did not complete a character (seen at hallucinated ends).
            pieces = [replace(p, text=p.text.replace("\ufffd", "")) for p in seg.pieces]
            pieces = dedupe_piece_loops([p for p in pieces if p.text])
            raw_text, times = _char_times(pieces, seg)
            if repetition_ratio(raw_text) > 0.6 and len(strip_punctuation(raw_text)) > 12:
                reason = "repetition_loop"
            elif not strip_punctuation(raw_text).strip():
                reason = "empty"
        if reason is not None:
            result.dropped.append(
                {"start": round(seg.start + offset, 3), "end": round(seg.end + offset, 3), "raw_text": seg.text, "reason": reason}
            )
            continue
        norm = normalize(raw_text)
        shifted = [(a + offset, b + offset, p) for a, b, p in times]
        words = _words_of(norm.text, norm.source_index, shifted)
        for text, raw, part_words in split_at_pauses(norm.text, norm.source_index, raw_text, words):
            start = part_words[0].start if part_words else seg.start + offset
            end = part_words[-1].end if part_words else seg.end + offset
            result.segments.append(
                Segment(
                    index=len(result.segments),
                    start=round(start, 3),
                    end=round(end, 3),
                    text=text,
                    raw_text=raw,
                    words=part_words,
                    avg_logprob=round(seg.avg_logprob, 4),
                    no_speech_prob=round(seg.no_speech_prob, 4),
                )
            )
    return result
