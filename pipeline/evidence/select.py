"""What goes into a pack: the chosen calls and the flags a reviewer let through, numbered.

Only accepted flags, plus pending ones with ``include_pending`` (marked 待复核); rejected flags
never. Pack order is call order (known start times first) and, within a call, the call-level
flags first, then transcript order. Flags of one sentence form one evidence item (``items``);
``PackFlag.number`` is its item's number, the evidence list's 序号, used in every file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.evidence.items import EvidenceItem, group_call_flags, number_width, sentence_bounds
from pipeline.render.categories import category_label
from pipeline.render.writers import format_timestamp
from pipeline.store import CaseStore, NotFoundError
from pipeline.store.rows import CallRow, FlagRow, SegmentRow
from pipeline.transcript import Transcript

PADDING_S = 2.0  # seconds of audio kept before and after a flag in its excerpt
EXCERPT_TEXT_MAX = 120  # characters of transcript shown per flag before trimming around the match
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


@dataclass(frozen=True)
class PackOptions:
    include_pending: bool = False
    redact: bool = False
    calls: tuple[str, ...] = ()  # call ids or unique id prefixes; empty = every call
    date_from: date | None = None  # inclusive, on the call's local start date
    date_to: date | None = None
    padding_s: float = PADDING_S
    templates_dir: Path | None = None  # an adapted copy of configs/templates (missing files: defaults)
    messages: bool = True  # the case's SMS backups, chat exports and screenshots (select_messages)

    def to_dict(self) -> dict[str, Any]:
        return {"include_pending": self.include_pending, "redact": self.redact, "calls": list(self.calls),
                "from": self.date_from.isoformat() if self.date_from else None,
                "to": self.date_to.isoformat() if self.date_to else None, "padding_s": self.padding_s,
                "templates": "custom" if self.templates_dir else "default", "messages": self.messages}


class ReviewedFlag:
    """What call and message flags in a pack share: their review status and category label."""

    row: Any

    @property
    def pending(self) -> bool:
        return self.row.status == "pending"

    @property
    def status_label(self) -> str:
        return "待复核" if self.pending else "已确认"

    @property
    def label(self) -> str:
        return category_label(self.row.category)


@dataclass
class PackFlag(ReviewedFlag):
    number: int  # 序号 in the evidence list, 1..
    row: FlagRow
    call: CallRow
    segment: SegmentRow | None
    excerpt_name: str | None = None  # "excerpts/01_2024-01-15_2234_爆通讯录.wav"; None: no clip of its own

    @property
    def is_call_level(self) -> bool:
        return self.row.level == "call" or self.row.segment_idx is None

    def time_range(self) -> str:
        """Where in the recording, e.g. '00:16.900–00:17.340' or '整通电话'."""
        if self.is_call_level or self.row.start_s is None:
            return "整通电话"
        end = self.row.end_s if self.row.end_s is not None else self.row.start_s
        return f"{_short_time(self.row.start_s)}–{_short_time(end)}"

    def wall_time(self) -> str | None:
        """Local date and time the flagged words were said, when the call's start is known."""
        start = _parse_start(self.call.start_time)
        if start is None:
            return None
        offset = 0.0 if self.is_call_level else (self.row.start_s or 0.0)
        return (start + timedelta(seconds=offset)).strftime("%Y-%m-%d %H:%M:%S")

    def excerpt_text(self) -> str:
        """The transcript words around the flag (the human correction when there is one)."""
        if self.is_call_level:
            return str((self.row.extra or {}).get("description_zh") or self.row.explanation or "")
        seg = self.segment
        if seg is None:
            return self.row.text or self.row.match_text or ""
        if seg.corrected_text is not None:
            return _trim(seg.corrected_text, None, None) + "（人工校对）"
        return sentence_around(seg.text, self.row.start_char, self.row.end_char)


@dataclass
class PackCall:
    call: CallRow
    original_name: str  # path inside the pack, "originals/<file name>"
    transcript: Transcript | None
    segments: list[SegmentRow]
    flags: list[PackFlag] = field(default_factory=list)
    stem: str = ""  # readable file stem of its transcript files: "2024-01-15_2234_13800138000"


@dataclass
class PackCase:
    case_info: dict[str, str]
    calls: list[PackCall]
    flags: list[PackFlag]
    rule_packs: list[dict[str, Any]]
    engines: list[dict[str, Any]]
    content_as_of: str  # latest intake/transcription/review/correction time of what is packed (UTC ISO)
    kept_numbers: set[str]  # the calls' own numbers: never masked by --redact
    left_out: dict[str, int]  # flags not packed: {"rejected": n, "pending": n}
    # filled by select_messages.attach_messages
    message_files: list[Any] = field(default_factory=list)  # PackMessageFile
    message_flags: list[Any] = field(default_factory=list)  # PackMessageFlag, numbered after ``items``
    items: list[EvidenceItem] = field(default_factory=list)  # the call flags grouped per sentence
    message_items: list[EvidenceItem] = field(default_factory=list)  # the message flags grouped per message
    message_left_out: dict[str, int] = field(default_factory=lambda: {"rejected": 0, "pending": 0})
    contacts: list[Any] = field(default_factory=list)  # ContactReached rows of what the pack holds
    # filled by select_calllog.attach_call_log: log files, and findings over calls no one recorded
    log_files: list[Any] = field(default_factory=list)  # PackCallLogFile
    log_flags: list[Any] = field(default_factory=list)  # PackLogFlag, numbered after ``message_items``
    log_items: list[EvidenceItem] = field(default_factory=list)
    log_left_out: dict[str, int] = field(default_factory=lambda: {"rejected": 0, "pending": 0})
    log_chart: Any = None  # call_log_charts.LogChartData over every incoming call (recorded or logged)
    log_rejected: set[tuple] = field(default_factory=set)  # (rule, description) of call-log findings rejected

    @property
    def evidence_count(self) -> int:
        """Evidence items (sentences, messages, call-log findings), not flags: see ``pipeline.evidence.items``."""
        return len(self.items) + len(self.message_items) + len(self.log_items)

    @property
    def all_items(self) -> list[EvidenceItem]:
        return [*self.items, *self.message_items, *self.log_items]


def _short_time(seconds: float) -> str:
    return format_timestamp(seconds, always_hours=False)


def _parse_start(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _trim(text: str, start: int | None, end: int | None) -> str:
    if len(text) <= EXCERPT_TEXT_MAX or start is None or end is None:
        return text if len(text) <= EXCERPT_TEXT_MAX else text[:EXCERPT_TEXT_MAX] + "…"
    margin = max(10, (EXCERPT_TEXT_MAX - (end - start)) // 2)
    lo, hi = max(0, start - margin), min(len(text), end + margin)
    return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")


def sentence_around(text: str, start: int | None, end: int | None) -> str:
    """The sentence(s) of ``text`` holding characters [start, end); a short one with the one before.

    A segment may hold several sentences and, without speaker separation, both sides' words;
    the sentence with the flagged words is what a complaint quotes.
    """
    bounds = sentence_bounds(text, start, end)
    if bounds is None or start is None or end is None:
        return _trim(text, None, None)
    lo, hi = bounds
    return _trim(text[lo:hi].strip(), start - lo, end - lo)


def safe_file_name(name: str) -> str:
    """A file name that is safe in a zip, on Windows and in SHA256SUMS (no separators or controls)."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip(" .")
    return cleaned or "recording"


def call_start_date(call: CallRow) -> date | None:
    start = _parse_start(call.start_time)
    return start.date() if start else None


def _choose_calls(store: CaseStore, options: PackOptions) -> list[CallRow]:
    calls = list(store.iter_calls())
    if options.calls:
        chosen: list[CallRow] = []
        for wanted in options.calls:
            hits = [c for c in calls if c.id.startswith(wanted.lower())]
            if len(hits) != 1:
                reason = "没有这个通话" if not hits else f"有 {len(hits)} 个通话以此开头，请写完整 ID"
                raise InputError(wanted, f"--calls：{reason}", "no such call" if not hits else "ambiguous call id")
            if hits[0] not in chosen:
                chosen.append(hits[0])
        calls = [c for c in calls if c in chosen]
    if options.date_from or options.date_to:
        def in_range(call: CallRow) -> bool:
            day = call_start_date(call)
            if day is None:
                return False
            return (options.date_from is None or day >= options.date_from) and (
                options.date_to is None or day <= options.date_to)
        calls = [c for c in calls if in_range(c)]
    return calls


def _original_names(calls: list[Any], taken: set[str] = frozenset()) -> dict[str, str]:
    """id -> "originals/<file name>" for calls or message files (anything with id and source_path);
    a name two files share, or one already ``taken``, gets the file's id in front."""
    names = {c.id: safe_file_name(Path(c.source_path).name) for c in calls}
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    taken = {t.lower() for t in taken}
    return {cid: f"originals/{cid}_{name}" if counts[name.lower()] > 1 or f"originals/{name}".lower() in taken
            else f"originals/{name}" for cid, name in names.items()}


def _rule_packs(store: CaseStore, flags: list[FlagRow]) -> list[dict[str, Any]]:
    found: dict[tuple, dict[str, Any]] = {}

    def add(info: Any) -> None:
        if isinstance(info, dict) and info.get("name"):
            key = (info.get("name"), info.get("version"), info.get("sha256"))
            found.setdefault(key, {"name": key[0], "version": key[1], "sha256": key[2]})

    for flag in flags:
        pack = flag.rule_pack or {}
        for info in pack.get("packs", [pack]):
            add(info)
    for run in store.runs():
        for info in run.rule_packs:
            add(info)
    return sorted(found.values(), key=lambda p: (str(p["name"]), str(p["version"]), str(p["sha256"])))


def _digits(number: str | None) -> str | None:
    if not number:
        return None
    digits = re.sub(r"\D", "", number)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
    return digits or None


def _kept_numbers(calls: list[CallRow]) -> set[str]:
    kept: set[str] = set()
    for call in calls:
        candidates = [call.number, call.number_raw]
        candidates += [p[0] for p in (call.meta or {}).get("participants") or [] if p]
        kept.update(d for d in map(_digits, candidates) if d)
    return kept


def collect(store: CaseStore, options: PackOptions) -> PackCase:
    """Read what the pack holds from the store (nothing is written)."""
    calls = _choose_calls(store, options)
    names = _original_names(calls)
    statuses = ("accepted", "pending") if options.include_pending else ("accepted",)
    pack_calls: list[PackCall] = []
    flags: list[PackFlag] = []
    left_out = {"rejected": 0, "pending": 0}
    all_rows: list[FlagRow] = []
    times = [c.intake_at for c in calls] + [c.transcribed_at for c in calls if c.transcribed_at]
    for call in calls:
        try:
            transcript = store.load_transcript(call.id)
        except NotFoundError:
            transcript = None
        segments = store.segments(call.id)
        by_idx = {s.idx: s for s in segments}
        times += [s.corrected_at for s in segments if s.corrected_at]
        pack_call = PackCall(call, names[call.id], transcript, segments)
        for row in store.call_flags(call.id):
            all_rows.append(row)
            if row.status not in statuses:
                left_out[row.status] = left_out.get(row.status, 0) + 1
                continue
            if row.reviewed_at:
                times.append(row.reviewed_at)
            flag = PackFlag(0, row, call, by_idx.get(row.segment_idx) if row.segment_idx is not None else None)
            flags.append(flag)
            pack_call.flags.append(flag)
        pack_calls.append(pack_call)
    items = _call_items(pack_calls, options.padding_s)
    _name_transcripts(pack_calls)
    engines = {(c.engine, c.model_name, c.model_sha256) for c in calls if c.engine}
    return PackCase(
        case_info=store.case_info(), calls=pack_calls, flags=[f for item in items for f in item.flags],
        rule_packs=_rule_packs(store, all_rows),
        engines=[{"engine": e, "model": m, "model_sha256": s} for e, m, s in sorted(engines, key=str)],
        content_as_of=max((_utc(t) for t in times if t), default="1980-01-01T00:00:00Z"),
        kept_numbers=_kept_numbers(calls), left_out=left_out, items=items)


def _call_items(pack_calls: list[PackCall], padding_s: float) -> list[EvidenceItem]:
    """Group each call's flags per sentence, number the items, and name their excerpts.

    An item's excerpt is cut around its first flag (± ``padding_s``); another flag of the item
    whose words fall outside that clip gets a clip of its own (``…_02b_…``)."""
    groups = [g for pack_call in pack_calls for g in group_call_flags(pack_call.flags)]
    width = number_width(len(groups))
    items: list[EvidenceItem] = []
    for number, group in enumerate(groups, start=1):
        item = EvidenceItem(number, group)
        for flag in group:
            flag.number = number
        items.append(item)
        pack_call = next(pc for pc in pack_calls if pc.call.id == item.lead.call.id)
        if pack_call.transcript is None or item.is_call_level:
            continue
        stem = f"{number:0{width}d}_{_name_time(item.lead)}_{item.short_name}"
        covered: tuple[float, float] | None = None
        suffix = iter("bcdefghijklmnopqrstuvwxyz")
        for flag in group:
            if flag.row.start_s is None:
                continue
            end = flag.row.end_s if flag.row.end_s is not None else flag.row.start_s
            if covered is None:
                flag.excerpt_name = f"excerpts/{safe_file_name(stem)}.wav"
                covered = (flag.row.start_s - padding_s, end + padding_s)
            elif not (covered[0] <= flag.row.start_s and end <= covered[1]):
                letter = next(suffix, "z")
                flag.excerpt_name = f"excerpts/{safe_file_name(f'{number:0{width}d}{letter}{stem[width:]}')}.wav"
    for pack_call in pack_calls:
        pack_call.flags.sort(key=lambda f: (f.number, f.row.start_char if f.row.start_char is not None else -1))
    return items


def _name_transcripts(pack_calls: list[PackCall]) -> None:
    """transcripts/<date>_<HHMM>_<number>.*; two calls with one name get their id after it."""
    stems = {}
    for pack_call in pack_calls:
        start = _parse_start(pack_call.call.start_time)
        when = start.strftime("%Y-%m-%d_%H%M") if start else "日期未知"
        stems[pack_call.call.id] = safe_file_name(f"{when}_{_digits(pack_call.call.number) or '号码未知'}")
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    for pack_call in pack_calls:
        stem = stems[pack_call.call.id]
        pack_call.stem = stem if counts[stem] == 1 else f"{stem}_{pack_call.call.id[:8]}"


def _name_time(flag: PackFlag) -> str:
    """'2024-01-15_2234' (local time of the flagged words), or '日期未知'."""
    wall = flag.wall_time()
    return f"{wall[:10]}_{wall[11:13]}{wall[14:16]}" if wall else "日期未知"


def _utc(text: str) -> str:
    """An ISO time as 'YYYY-MM-DDTHH:MM:SSZ' in UTC (so that times compare as strings)."""
    moment = datetime.fromisoformat(text)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
