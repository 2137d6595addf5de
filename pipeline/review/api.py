"""What the review page reads and writes: JSON views of the case store, and the reviewer's actions.

Call flags, message flags (SMS, chat exports, screenshots) and the findings over calls known only
from a call log are listed together; each carries a ``key`` unique across them (a call flag's id as
text, ``m<id>`` for a message flag, ``l<id>`` for a call-log finding) and a ``kind`` (call / sms /
chat / screenshot / calllog). Every action goes straight to the store, which writes
it with a custody event in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.batch import reflag_stored
from pipeline.detect import load_detector
from pipeline.messages.annotated import screenshot_boxes
from pipeline.render.categories import DIRECTION_LABELS, STATUS_LABELS, categories_for_client
from pipeline.render.flag_view import ROLE_NAMES, flag_view
from pipeline.render.html_call import LOW_CONFIDENCE, speaker_name
from pipeline.render.message_view import (
    FORMAT_LABELS,
    direction_label,
    kind_label,
    local_time,
    party_text,
    when_text,
)
from pipeline.rules import DEFAULT_PACK
from pipeline.store import ROLES, CaseStore, NotFoundError
from pipeline.store.rows import CallRow, FlagRow, SegmentRow

EXCERPT_PADDING_S = 3.0


class BadRequest(ValueError):
    """The page sent something the store cannot take (message in Chinese, shown to the reviewer)."""


def _call_json(store: CaseStore, call: CallRow) -> dict[str, Any]:
    start = (call.start_time or "").replace("T", " ")[:16]
    speakers = [{"speaker": s.speaker, "role": s.role, "role_source": s.role_source,
                 "label": speaker_name(s.speaker, s.role)} for s in store.speakers(call.id)]
    return {
        "id": call.id, "number": call.number, "contact_name": call.contact_name, "start_time": call.start_time,
        "direction": DIRECTION_LABELS.get(call.direction or "", "方向未知"), "duration": call.duration,
        "status": call.status, "error": call.error, "file": call.source_path.replace("\\", "/").rsplit("/", 1)[-1],
        "label": f"{call.number or '号码未知'} · {start or '时间未知'}",
        "short": f"{call.number or '号码未知'} {start[5:] if start else '时间未知'}", "speakers": speakers,
    }


def flag_json(flag: FlagRow, segment_text: str | None) -> dict[str, Any]:
    view = flag_view(flag).to_dict()  # ``explanation`` plain Chinese, ``technical`` behind 技术细节
    view.update(key=str(flag.id), kind="call", call_id=flag.call_id,
                text=segment_text if segment_text is not None else flag.text,
                category_original=flag.category_original, reviewed_by=flag.reviewed_by, reviewed_at=flag.reviewed_at,
                excerpt_start=max(0.0, (flag.start_s or 0.0) - EXCERPT_PADDING_S),
                excerpt_end=(flag.end_s or flag.start_s or 0.0) + EXCERPT_PADDING_S)
    return view


def _segment_texts(store: CaseStore, call_id: str) -> dict[int, str]:
    return {s.idx: s.text for s in store.segments(call_id)}


def state(store: CaseStore) -> dict[str, Any]:
    """Everything the page needs to list and filter flags: calls, flags, categories, roles."""
    calls = list(store.iter_calls())
    texts = {c.id: _segment_texts(store, c.id) for c in calls}
    flags = [flag_json(f, texts.get(f.call_id, {}).get(f.segment_idx) if f.segment_idx is not None else None)
             for f in store.all_flags()]
    sources = {s.id: s for s in store.message_sources()}
    messages = {m.id: m for m in store.messages()}
    flags += [message_flag_json(f, messages.get(f.message_id), sources[f.source_id]) for f in store.message_flags()]
    flags += [calllog_flag_json(f) for f in log_only_findings(store)]
    info = store.case_info()
    return {
        "case": {"id": info.get("case_id"), "dir": str(store.case_dir), "name": store.case_dir.name},
        "calls": [_call_json(store, c) for c in calls],
        "sources": [source_json(s) for s in sources.values()],
        "flags": flags,
        "categories": categories_for_client(),
        "roles": [{"code": r, "label": ROLE_NAMES[r]} for r in ROLES],
        "statuses": [{"code": k, "label": v} for k, v in STATUS_LABELS.items()],
    }


def _segment_json(seg: SegmentRow, words: list[tuple[int, int, float]]) -> dict[str, Any]:
    return {
        "idx": seg.idx, "start": seg.start, "end": seg.end, "speaker": seg.speaker, "role": seg.role,
        "who": speaker_name(seg.speaker, seg.role), "text": seg.text, "corrected_text": seg.corrected_text,
        "corrected_by": seg.corrected_by, "corrected_at": seg.corrected_at,
        "low": [[o, o + n, t] for o, n, t in words],  # char spans of unsure words, with their start time
    }


def call_detail(store: CaseStore, call_id: str) -> dict[str, Any]:
    """One call's segments (machine text, correction, unsure words) and flags."""
    call = store.get_call(call_id)
    try:
        transcript = store.load_transcript(call_id)
    except NotFoundError:
        transcript = None
    low: dict[int, list[tuple[int, int, float]]] = {}
    if transcript is not None:
        for seg in transcript.segments:
            low[seg.index] = [(w.offset, len(w.text), w.start) for w in seg.words
                              if w.probability < LOW_CONFIDENCE and w.text.strip()]
    segments = store.segments(call_id)
    texts = {s.idx: s.text for s in segments}
    return {
        "call": _call_json(store, call),
        "segments": [_segment_json(s, low.get(s.idx, [])) for s in segments],
        "flags": [flag_json(f, texts.get(f.segment_idx) if f.segment_idx is not None else None)
                  for f in store.call_flags(call_id)],
    }


# ------------------------------------------------------------------ messages


def source_json(source: Any) -> dict[str, Any]:
    name = Path(source.source_path).name
    person = source.received_by or "未注明"
    return {"id": source.id, "name": name, "kind": source.kind or "sms", "kind_label": kind_label(source.kind),
            "format_label": FORMAT_LABELS.get(source.format or "", kind_label(source.kind)), "received_by": person,
            "status": source.status, "error": source.error, "sha256": source.sha256,
            "label": f"{kind_label(source.kind)} · {name}（接收人：{person}）",
            "short": f"{kind_label(source.kind)} {person} {name if len(name) <= 16 else name[:15] + '…'}"}


def message_json(message: Any) -> dict[str, Any]:
    return {"id": message.id, "idx": message.idx, "when": when_text(message), "direction": message.direction,
            "direction_label": direction_label(message.direction), "party": party_text(message),
            "sender": message.sender, "text": message.text, "notes": list(message.notes),
            "confidence": message.confidence}


def message_flag_json(flag: Any, message: Any | None, source: Any) -> dict[str, Any]:
    """A message flag in the shape of a call flag: ``level`` 'segment' for words in a message
    (character span into ``text``), 'call' for a rule over the message log; no audio times."""
    view = flag_view(flag).to_dict()
    log = flag.level == "log"
    view.update(
        key=f"m{flag.id}", kind=source.kind or "sms", source_id=flag.source_id, message_id=flag.message_id,
        call_id=None, level="call" if log else "segment", segment_index=None,
        text=message.text if message is not None and not log else flag.text,
        role_label="消息记录" if log else (f"{direction_label(message.direction)}的消息" if message else "消息"),
        category_original=flag.category_original, reviewed_by=flag.reviewed_by, reviewed_at=flag.reviewed_at,
        start_s=None, end_s=None, excerpt_start=None, excerpt_end=None, has_boxes=bool(flag.boxes),
        message=message_json(message) if message is not None else None)
    return view


def message_detail(store: CaseStore, source_id: str) -> dict[str, Any]:
    """One message file: its messages, its flags, and whether an annotated image can be shown."""
    source = store.get_message_source(source_id)
    messages = store.messages(source_id)
    by_id = {m.id: m for m in messages}
    flags = store.message_flags(source_id=source_id)
    return {"source": source_json(source), "messages": [message_json(m) for m in messages],
            "flags": [message_flag_json(f, by_id.get(f.message_id), source) for f in flags],
            "image": source.kind == "screenshot" or source.format == "screenshot",
            "boxes": len(annotation_boxes(flags))}


def annotation_boxes(flags: list[Any]) -> list[tuple[list[list[float]], str]]:
    """What the review page's annotated screenshot boxes: every flag not rejected."""
    return screenshot_boxes(f for f in flags if f.status != "rejected")


# ------------------------------------------------------------------ call-log findings


def log_only_findings(store: CaseStore) -> list[Any]:
    """Findings over the call log that no recording carries (calls known only from a log);
    the others are reviewed on their recordings as call-level flags."""
    return [f for f in store.calllog_flags() if f.log_only] if hasattr(store, "calllog_flags") else []


def calllog_flag_json(flag: Any) -> dict[str, Any]:
    """A finding over the call log (unanswered calls, night calls, rotating numbers) in the shape
    of a call-level flag: key ``l<id>``, kind 'calllog', no audio, the counted log entries in detail."""
    view = flag_view({"id": flag.id, "category": flag.category, "rule": flag.rule, "rules": [flag.rule],
                      "level": "call", "severity": flag.severity, "score": flag.score,
                      "legal_basis": flag.legal_basis, "explanation": flag.explanation,
                      "description_zh": flag.description, "status": flag.status, "note": flag.note,
                      "stale": flag.stale}).to_dict()
    view.update(key=f"l{flag.id}", kind="calllog", call_id=None, source_id=None, finding_id=flag.id,
                text=flag.description, role_label="通话记录（无录音）", number=flag.number, day=flag.day,
                count=flag.count, reviewed_by=flag.reviewed_by, reviewed_at=flag.reviewed_at, category_original=None,
                start_s=None, end_s=None, excerpt_start=None, excerpt_end=None, has_boxes=False, message=None)
    return view


def _log_when(entry: Any) -> str:
    """A log entry's local wall time (a phone's epoch time in Beijing time); only the day when that is all it shows."""
    when = local_time(entry.start_time)
    if when is None:
        return "时间未知"
    return when.date().isoformat() if entry.time_precision == "day" else when.isoformat(sep=" ", timespec="seconds")


def calllog_detail(store: CaseStore, flag_id: int) -> dict[str, Any]:
    """One finding and the log entries it counts (time, number, type, who received it, which file)."""
    from pipeline.calllog.model import TIME_SOURCES, TYPE_LABELS

    flag = store.get_calllog_flag(flag_id)
    sources = {s.id: s for s in store.calllog_sources()}
    wanted = set(flag.entry_ids)
    entries = [e for e in store.calllog_entries() if e.id in wanted]
    return {"flag": calllog_flag_json(flag), "entries": [{
        "id": e.id, "when": _log_when(e),
        "number": e.number or e.contact_name or "号码未知", "type": TYPE_LABELS.get(e.type, e.type), "count": e.count,
        "received_by": e.received_by or "未注明", "time_source": TIME_SOURCES.get(e.time_source or "", e.time_source or ""),
        "file": Path(sources[e.source_id].source_path).name if e.source_id in sources else "", "line": e.line,
        "notes": list(e.notes)} for e in entries]}


# ------------------------------------------------------------------ actions


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"“{key}”应为文字")
    return value


def _decision(flag: Any, body: dict[str, Any]) -> tuple[str, str | None]:
    """The status and category a review request asks for, checked (call and message flags alike)."""
    status = _text(body, "status") or flag.status
    if status not in STATUS_LABELS:
        raise BadRequest(f"未知的复核状态：{status}")
    category = _text(body, "category")
    known = {c["code"] for c in categories_for_client()}
    if category is not None and category not in known and category != flag.machine_category:
        raise BadRequest(f"未知的类别：{category}")
    return status, category


def review_flag(store: CaseStore, flag_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Body: any of status (pending/accepted/rejected), note, category; the rest is kept."""
    flag = store.get_flag(flag_id)
    status, category = _decision(flag, body)
    updated = store.set_flag_status(flag_id, status, note=_text(body, "note"), category=category)
    text = _segment_texts(store, updated.call_id).get(updated.segment_idx) if updated.segment_idx is not None else None
    return flag_json(updated, text)


def review_message_flag(store: CaseStore, flag_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Body: any of status, note, category (as ``review_flag``), for a message flag."""
    flag = store.get_message_flag(flag_id)
    status, category = _decision(flag, body)
    updated = store.set_message_flag_status(flag_id, status, note=_text(body, "note"), category=category)
    source = store.get_message_source(updated.source_id)
    message = next((m for m in store.messages(updated.source_id) if m.id == updated.message_id), None)
    return message_flag_json(updated, message, source)


def review_calllog_flag(store: CaseStore, flag_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Body: any of status, note, for a finding over the call log (its category is the rule's)."""
    flag = store.get_calllog_flag(flag_id)
    status = _text(body, "status") or flag.status
    if status not in STATUS_LABELS:
        raise BadRequest(f"未知的复核状态：{status}")
    if _text(body, "category") not in (None, flag.category):
        raise BadRequest("通话记录的发现不能改类别")
    return calllog_flag_json(store.set_calllog_flag_status(flag_id, status, note=_text(body, "note")))


def correct_segment(store: CaseStore, call_id: str, idx: int, body: dict[str, Any]) -> dict[str, Any]:
    """Body: {"text": corrected text}; empty or the machine text again clears the correction."""
    text = _text(body, "text")
    if text is not None:
        text = text.strip() or None
    seg = store.correct_segment(call_id, idx, text)
    detail = call_detail(store, call_id)
    return next(s for s in detail["segments"] if s["idx"] == seg.idx)


def set_role(store: CaseStore, call_id: str, speaker: str, body: dict[str, Any]) -> dict[str, Any]:
    """Set a speaker's role, then re-flag the call with the detector it was flagged with, so that
    role-gated rules follow at once. Reviewed flags are kept (stale when no longer produced)."""
    role = _text(body, "role")
    if role not in ROLES:
        raise BadRequest(f"未知的身份：{role}")
    store.set_role(call_id, speaker, role)
    before = {f.id for f in store.call_flags(call_id) if f.level == "segment"}
    call = store.get_call(call_id)
    try:
        transcript_known = store.load_transcript(call_id) is not None
    except NotFoundError:
        transcript_known = False
    if transcript_known:
        reflag_stored(store, call_id, detector_for(store, call_id), call.direction)
    after = {f.id for f in store.call_flags(call_id) if f.level == "segment"}
    detail = call_detail(store, call_id)
    detail["reflag"] = {"added": len(after - before), "removed": len(before - after)}
    return detail


def detector_for(store: CaseStore, call_id: str) -> Any:
    """The detector a call's flags were made with: the rule packs (default plus the extra ones
    still on disk) and, when its flags came from the model tier too, that tier with its examples."""
    infos: list[dict[str, Any]] = []
    for flag in store.call_flags(call_id):
        pack = flag.rule_pack or {}
        infos += [i for i in pack.get("packs", [pack]) if isinstance(i, dict)]
    default = str(DEFAULT_PACK.resolve())
    packs = sorted({str(i["path"]) for i in infos if i.get("path") and i.get("kind") in (None, "rules")
                    and str(Path(i["path"]).resolve()) != default and Path(i["path"]).is_file()})
    examples = sorted({str(i["path"]) for i in infos if i.get("kind") == "examples" and i.get("path")
                       and Path(i["path"]).is_file()})
    has_model = any(i.get("kind") == "model" for i in infos)
    has_rules = any(i.get("kind") in (None, "rules") for i in infos) or not infos
    mode = "both" if has_model and has_rules else "model" if has_model else "rules"
    key = (mode, tuple(packs), tuple(examples))
    if key not in _DETECTORS:
        _DETECTORS[key] = load_detector(mode, packs, examples)
    return _DETECTORS[key]


_DETECTORS: dict[tuple, Any] = {}
