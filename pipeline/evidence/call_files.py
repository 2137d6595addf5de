"""The pack's per-call files (transcripts/<call>.html, .json, .txt) and timeline.csv (calls and messages).

All text goes through the pack's ``Redactor`` (``None`` when ``--redact`` is off). Flags are only
the packed ones; each carries its excerpt's file name next to its text, times, speaker,
category, rule, legal basis and reviewer note. Audio links point at the pack's own originals/.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
from collections import Counter
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from pipeline import __version__
from pipeline.audio_complete import Damage
from pipeline.evidence.csv_cells import safe_cell
from pipeline.evidence.legal import basis_citation, citable_bases, conduct_day
from pipeline.evidence.message_files import timeline_rows
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCall, PackCase, PackFlag
from pipeline.render.categories import CATEGORIES, DIRECTION_LABELS, SOURCE_LABELS, category_label
from pipeline.render.html_call import duration_zh, render_call_html, speaker_name
from pipeline.render.message_view import local_time
from pipeline.render.writers import MACHINE_NOTICE, format_timestamp
from pipeline.transcript import Transcript

CALL_SCHEMA = "callproof.pack-call/1"
TIMELINE_COLUMNS = ("类型", "开始时间", "时间来源", "号码", "联系人", "接收人", "方向", "时长(秒)", "ID", "原始文件",
                    "转写或消息页", "备注")


def _redact(redactor: Redactor | None, value: Any) -> Any:
    return redactor.value(value) if redactor else value


def transcript_path(pack_call: PackCall, extension: str) -> str:
    """transcripts/2024-01-15_2234_13800138000.<extension> (``PackCall.stem``)."""
    return f"transcripts/{pack_call.stem or pack_call.call.id}.{extension}"


def pack_transcript(pack_call: PackCall, redactor: Redactor | None) -> Transcript:
    """The stored transcript as the pack shows it: source path inside the pack, numbers masked."""
    assert pack_call.transcript is not None
    transcript = copy.deepcopy(pack_call.transcript)
    transcript.source.path = pack_call.original_name
    transcript.model.path = ""  # a path on the exporting machine says nothing about the evidence
    if redactor:
        for seg in transcript.segments:
            seg.text, seg.raw_text = redactor.text(seg.text), redactor.text(seg.raw_text)
            for word in seg.words:  # masking keeps lengths, so word offsets still fit
                word.text = seg.text[word.offset:word.offset + len(word.text)] or word.text
        transcript.dropped = redactor.value(transcript.dropped)
    return transcript


def flag_record(flag: PackFlag, redactor: Redactor | None) -> dict[str, Any]:
    """A packed flag as the JSON and HTML carry it: the store's fields plus pack number and excerpt."""
    data = copy.deepcopy(flag.row.to_dict())
    data.update(pack_number=flag.number, status_label=flag.status_label, category_label=flag.label,
                excerpt=flag.excerpt_name, time_range=flag.time_range(), wall_time=flag.wall_time(),
                legal_basis_cited=citable_bases(flag.row.legal_basis, conduct_day(flag.wall_time())))
    data["rule_pack"] = {k: v for k, v in (data.get("rule_pack") or {}).items() if k != "path"}
    for pack in data["rule_pack"].get("packs", []):
        pack.pop("path", None)
    return _redact(redactor, data)


def _corrections(pack_call: PackCall, redactor: Redactor | None) -> dict[int, dict[str, Any]]:
    return {s.idx: {"text": _redact(redactor, s.corrected_text), "by": s.corrected_by, "at": s.corrected_at}
            for s in pack_call.segments if s.corrected_text is not None}


def call_meta(pack_call: PackCall, redactor: Redactor | None) -> dict[str, Any]:
    """The call's metadata as the pack shows it (the original's path is the pack's own)."""
    data = dataclasses.asdict(pack_call.call)
    data["source_path_at_intake"] = data.pop("source_path")
    data["source_path"] = pack_call.original_name
    for key in ("options", "error"):
        data.pop(key, None)
    return _redact(redactor, data)


def _pack_href(path: str) -> str:
    """A pack path as a link from transcripts/ (percent-encoded)."""
    return "../" + "/".join(quote(part) for part in PurePosixPath(path).parts)


def call_html(pack_call: PackCall, redactor: Redactor | None) -> str:
    """The annotated transcript; each flag headed by its evidence number, with a link to its clip
    (its own, or its sentence's)."""
    flags = [flag_record(flag, redactor) for flag in pack_call.flags]
    first: dict[int, str] = {}  # evidence number -> its sentence's clip
    for flag in pack_call.flags:
        if flag.excerpt_name:
            first.setdefault(flag.number, flag.excerpt_name)
    links = {flag.row.id: _pack_href(flag.excerpt_name or first[flag.number]) for flag in pack_call.flags
             if flag.excerpt_name or flag.number in first}
    return render_call_html(pack_transcript(pack_call, redactor), flags, call_meta(pack_call, redactor),
                            _pack_href(pack_call.original_name), corrections=_corrections(pack_call, redactor),
                            excerpt_links=links)


def call_json(pack_call: PackCall, redactor: Redactor | None) -> str:
    document = {
        "schema": CALL_SCHEMA,
        "notice": MACHINE_NOTICE,
        "tool_version": __version__,
        "call": call_meta(pack_call, redactor),
        "original": {"path": pack_call.original_name, "sha256": pack_call.call.sha256},
        "flags": [flag_record(f, redactor) for f in pack_call.flags],
        "corrections": {str(k): v for k, v in _corrections(pack_call, redactor).items()},
        "transcript": pack_transcript(pack_call, redactor).to_dict(),
    }
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def _flag_line(flag: PackFlag, redactor: Redactor | None) -> str:
    row = flag.row
    bits = [f"证据 {flag.number}：{flag.label}"]
    if row.match_text:
        bits.append(f"“{_redact(redactor, row.match_text)}”")
    bits.append(f"时间 {flag.time_range()}")
    cited = citable_bases(row.legal_basis, conduct_day(flag.wall_time()))
    if cited:
        bits.append("依据 " + "、".join(basis_citation(b) for b in cited))
    if flag.excerpt_name:
        bits.append(f"摘录 {flag.excerpt_name}")
    bits.append(flag.status_label)
    if row.note:
        bits.append(f"复核备注：{_redact(redactor, row.note)}")
    return "    ▲ " + "；".join(bits)


def call_txt(pack_call: PackCall, redactor: Redactor | None) -> str:
    """The transcript with times, human corrections and the packed flags under their lines."""
    call = pack_call.call
    transcript = pack_transcript(pack_call, redactor)
    start = (call.start_time or "未知").replace("T", " ")
    source = SOURCE_LABELS.get(call.start_source or "", call.start_source or "")
    lines = [
        f"# 原始录音: {pack_call.original_name}",
        f"# SHA-256: {call.sha256}",
        f"# 号码: {call.number or '未知'}  开始时间: {start}{f'（来自{source}）' if source else ''}  "
        f"方向: {DIRECTION_LABELS.get(call.direction or '', '未知')}  时长: {duration_zh(call.duration)}",
        f"# 转写: {transcript.model.engine} {transcript.model.name}",
        f"# {MACHINE_NOTICE}",
        "",
    ]
    damage = Damage.from_dict(transcript.source.damage)
    if damage:  # a recording cut short: the transcript covers only what decoded
        lines.insert(-2, f"# 录音状态: {damage.summary}")
    for flag in pack_call.flags:
        if flag.is_call_level:
            lines.append(_flag_line(flag, redactor).replace("    ▲ ", "▲ 整通电话："))
    corrections = _corrections(pack_call, redactor)
    by_segment: dict[int, list[PackFlag]] = {}
    for flag in pack_call.flags:
        if not flag.is_call_level and flag.row.segment_idx is not None:
            by_segment.setdefault(flag.row.segment_idx, []).append(flag)
    for seg in transcript.segments:
        who = speaker_name(seg.speaker, seg.role) if seg.speaker or seg.role else ""
        who = f"[{who}] " if who else ""
        lines.append(f"[{format_timestamp(seg.start)} --> {format_timestamp(seg.end)}] {who}{seg.text}")
        if seg.index in corrections:
            lines.append(f"    人工校对：{corrections[seg.index]['text']}")
        lines += [_flag_line(f, redactor) for f in by_segment.get(seg.index, [])]
    return "\n".join(lines) + "\n"


def _call_notes(pack_call: PackCall) -> list[str]:
    notes = []
    for flag in pack_call.flags:
        if flag.is_call_level:
            text = flag.excerpt_text()
            notes.append(f"{flag.label}：{text}" + ("【待复核】" if flag.pending else ""))
    if pack_call.transcript is None:
        notes.append("未能转写：" + (pack_call.call.error or "无转写"))
    elif pack_call.transcript.source.damage:
        notes.append(Damage.from_dict(pack_call.transcript.source.damage).summary)
    if pack_call.call.start_source == "mtime":
        notes.append("时间取自文件修改时间（推测）")
    return notes


def timeline_csv(case: PackCase, redactor: Redactor | None) -> str:
    """Every packed call, and every message that is a contact by the other side (SMS, chat lines,
    screenshot bubbles; see ``message_files.timeline_rows``), in time order: type, time, number,
    receiver, direction, duration, original, transcript or message page, flags per category, notes. Rows of unknown time come last."""
    used = Counter(f.row.category for f in [*case.flags, *case.message_flags])
    categories = [c for c in CATEGORIES if c in used] + sorted(c for c in used if c not in CATEGORIES)
    rows: list[tuple[Any, dict[str, Any]]] = []
    for pack_call in case.calls:
        call = pack_call.call
        rows.append((local_time(call.start_time), {
            "类型": "通话", "开始时间": (call.start_time or "").replace("T", " "),
            "时间来源": SOURCE_LABELS.get(call.start_source or "", ""), "号码": call.number or "",
            "联系人": call.contact_name or "", "接收人": call.received_by or "",
            "方向": DIRECTION_LABELS.get(call.direction or "", "未知"),
            "时长(秒)": f"{call.duration:.1f}" if call.duration else "", "ID": call.id,
            "原始文件": pack_call.original_name,
            "转写或消息页": transcript_path(pack_call, "html") if pack_call.transcript is not None else "",
            "categories": [f.row.category for f in pack_call.flags],
            "备注": "；".join(_call_notes(pack_call))}))
    rows += timeline_rows(case, redactor)
    rows.sort(key=lambda item: (item[0] is None, item[0] or 0))  # stable: calls keep their order on ties
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["序号", *TIMELINE_COLUMNS[:-1], *(f"{category_label(c)}({c})" for c in categories), "备注"])
    for number, (_, row) in enumerate(rows, start=1):
        counts = Counter(row["categories"])
        cells = [number, *(row[k] for k in TIMELINE_COLUMNS[:-1]), *(counts.get(c, 0) for c in categories), row["备注"]]
        writer.writerow([safe_cell(_redact(redactor, str(cell))) for cell in cells])
    return "\ufeff" + buffer.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly only with it
