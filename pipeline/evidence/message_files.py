"""The pack's files for message evidence: ``messages/<stem>.html|.txt|.json`` (every message of
the file, the packed flags highlighted and numbered as in the evidence list; the stem is readable,
``2024-01-15_2340_13800138000_短信``, see ``message_names``), the annotated copy of a screenshot
(``screenshots_annotated/``: its packed flags' lines boxed and labelled ``#序号 CATEGORY``, drawn
on the original's bytes as staged for the pack), the message rows of timeline.csv, the evidence
list's rows, and ``contacts_reached.csv``.

Text goes through the pack's ``Redactor``; images cannot be masked (a screenshot shows what it
shows), which the manifest says.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from pipeline import __version__
from pipeline.contacts_reached import contact_messages
from pipeline.evidence.csv_cells import safe_cell
from pipeline.evidence.legal import basis_citation, citable_bases
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCase
from pipeline.evidence.select_messages import PackMessageFile, PackMessageFlag
from pipeline.messages.annotated import screenshot_boxes
from pipeline.messages.ocr import annotated_png
from pipeline.render.categories import category_label
from pipeline.render.html_messages import render_message_page
from pipeline.render.html_pack_index import WITHHELD_ORIGINAL
from pipeline.render.message_view import (
    FORMAT_LABELS,
    OCR_NOTICE,
    TEXT_NOTICE,
    TIME_SOURCE_LABELS,
    direction_label,
    kind_label,
    local_time,
    party_text,
    when_text,
)

MESSAGES_SCHEMA = "callproof.pack-messages/1"


def _redact(redactor: Redactor | None, value: Any) -> Any:
    return redactor.value(value) if redactor else value


def message_path(pack_file: PackMessageFile, extension: str) -> str:
    """messages/2024-01-15_2340_13800138000_短信.<extension> (``PackMessageFile.stem``)."""
    return f"messages/{pack_file.stem or pack_file.source.id}.{extension}"


def message_page(pack_file: PackMessageFile) -> str | None:
    """The file's HTML page in the pack; None when the file could not be read (no page)."""
    return message_path(pack_file, "html") if pack_file.source.status == "done" else None


def notice(pack_file: PackMessageFile) -> str:
    return OCR_NOTICE if pack_file.is_screenshot else TEXT_NOTICE


def _href(from_dir: str, target: str) -> str:
    """``target`` (a pack path) relative to the pack folder ``from_dir``, percent-encoded."""
    up = "../" * len(PurePosixPath(from_dir).parts)
    return up + "/".join(quote(part) for part in PurePosixPath(target).parts)


def _redacted_rows(pack_file: PackMessageFile, redactor: Redactor | None) -> tuple[list[Any], list[Any]]:
    """Copies of the file's messages and packed flag rows with numbers masked (lengths kept)."""
    messages = [dataclasses.replace(m, text=_redact(redactor, m.text), notes=_redact(redactor, m.notes),
                                    sender=_redact(redactor, m.sender)) for m in pack_file.messages]
    flags = [dataclasses.replace(f.row, match_text=_redact(redactor, f.row.match_text), text=_redact(redactor, f.row.text),
                                 note=_redact(redactor, f.row.note), extra=_redact(redactor, f.row.extra),
                                 explanation=_redact(redactor, f.row.explanation)) for f in pack_file.flags]
    return messages, flags


def message_html(pack_file: PackMessageFile, redactor: Redactor | None) -> str:
    messages, flags = _redacted_rows(pack_file, redactor)
    # a redacted pack that left the original out names it and says where it is, without a link
    original = None if pack_file.withheld else _href("messages", pack_file.original_name)
    image = _href("messages", pack_file.annotated_name) if pack_file.annotated_name else original
    numbers = {f.row.id: f.number for f in pack_file.flags}
    extra = {f.row.id: {"证据目录": f"第 {f.number} 项（{f.status_label}）"} for f in pack_file.flags}
    source = dataclasses.replace(pack_file.source, problems=_redact(redactor, pack_file.source.problems))
    return render_message_page(source, messages, flags, original_href=original, image_href=image,
                               annotated=pack_file.annotated_name is not None,
                               original_name=pack_file.original_name.split("/", 1)[1], numbers=numbers,
                               flag_extra=extra, footer=f"callproof {__version__}", original_note=WITHHELD_ORIGINAL)


def flag_record(flag: PackMessageFlag, redactor: Redactor | None) -> dict[str, Any]:
    data = flag.row.to_dict()
    data["rule_pack"] = {k: v for k, v in (data.get("rule_pack") or {}).items() if k != "path"}
    for pack in data["rule_pack"].get("packs", []):
        pack.pop("path", None)
    data.update(pack_number=flag.number, status_label=flag.status_label, category_label=flag.label,
                wall_time=flag.wall_time(), legal_basis_cited=citable_bases(flag.row.legal_basis))
    return _redact(redactor, data)


def _source_record(pack_file: PackMessageFile) -> dict[str, Any]:
    source = pack_file.source
    return {"id": source.id, "original": pack_file.original_name, "sha256": source.sha256, "size": source.size,
            "intake_at": source.intake_at, "format": source.format, "kind": source.kind,
            "received_by": source.received_by, "received_by_source": source.received_by_source,
            "status": source.status, "parser": source.parser_key, "annotated": pack_file.annotated_name}


def message_json(pack_file: PackMessageFile, redactor: Redactor | None) -> str:
    messages, _ = _redacted_rows(pack_file, redactor)
    document = {"schema": MESSAGES_SCHEMA, "notice": notice(pack_file), "tool_version": __version__,
                "source": _redact(redactor, _source_record(pack_file)),
                "problems": _redact(redactor, pack_file.source.problems),
                "messages": [vars(m) for m in messages],
                "flags": [flag_record(f, redactor) for f in pack_file.flags]}
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def _flag_line(flag: PackMessageFlag, redactor: Redactor | None) -> str:
    bits = [f"证据目录第 {flag.number} 项 {flag.label}（{flag.row.category}）"]
    if flag.row.match_text:
        bits.append(f"“{_redact(redactor, flag.row.match_text)}”")
    elif flag.is_log:
        bits.append(_redact(redactor, flag.excerpt_text()))
    bits.append(f"规则 {flag.row.rule}")
    cited = citable_bases(flag.row.legal_basis)
    if cited:
        bits.append("依据 " + "、".join(cited))
    bits.append(flag.status_label)
    if flag.row.note:
        bits.append(f"复核备注：{_redact(redactor, flag.row.note)}")
    return "    ▲ " + "；".join(bits)


def message_txt(pack_file: PackMessageFile, redactor: Redactor | None) -> str:
    source = pack_file.source
    lines = [f"# 原始文件: {pack_file.original_name}",
             *([f"# {WITHHELD_ORIGINAL}"] if pack_file.withheld else []), f"# SHA-256: {source.sha256}",
             f"# 类型: {FORMAT_LABELS.get(source.format or '', kind_label(source.kind))}  "
             f"接收人: {source.received_by or '未注明'}",
             *([f"# 标注副本: {pack_file.annotated_name}"] if pack_file.annotated_name else []),
             f"# {notice(pack_file)}", ""]
    by_message: dict[str, list[PackMessageFlag]] = {}
    for flag in pack_file.flags:
        by_message.setdefault(flag.row.message_id, []).append(flag)
    for message in pack_file.messages:
        towards = "发给" if message.direction == "sent" else "来自"
        lines.append(f"[{when_text(message)}] {direction_label(message.direction)} {towards} {party_text(message)}："
                     f"{_redact(redactor, message.text)}")
        lines += [_flag_line(f, redactor) for f in by_message.get(message.id, [])]
    return "\n".join(lines) + "\n"


def annotated_copy(pack_file: PackMessageFile, staged: Path) -> tuple[bytes, dict[str, Any]]:
    """The annotated screenshot (PNG bytes) drawn on the staged original, and its manifest entry."""
    numbers = {f.row.id: f.number for f in pack_file.flags}
    boxes = screenshot_boxes([f.row for f in pack_file.flags], lambda row: f"#{numbers[row.id]} {row.category}")
    data = annotated_png(staged, boxes)
    return data, {"path": pack_file.annotated_name, "original": pack_file.original_name,
                  "source_id": pack_file.source.id, "boxes": [{"box": b, "label": label} for b, label in boxes],
                  "flags": [f.number for f in pack_file.flags if f.row.boxes]}


# ------------------------------------------------------------------ rows in the pack's tables


def timeline_rows(case: PackCase, redactor: Redactor | None) -> list[tuple[Any, dict[str, Any]]]:
    """(local time or None, row by column) for the messages that are contacts by the other side."""
    kinds = {f.source.id: f.source.kind for f in case.message_files}
    flags_by_message: dict[str, list[PackMessageFlag]] = {}
    for flag in case.message_flags:
        flags_by_message.setdefault(flag.row.message_id, []).append(flag)
    originals = {f.source.id: f for f in case.message_files}
    everything = [m for f in case.message_files for m in f.messages]
    rows = []
    for message in contact_messages(everything, kinds, [pc.call.number for pc in case.calls], set(flags_by_message)):
        pack_file = originals[message.source_id]
        flags = flags_by_message.get(message.id, [])
        notes = [f"{f.label}：{f.excerpt_text()}" + ("【待复核】" if f.pending else "") for f in flags if f.is_log]
        notes += [f"证据目录第 {f.number} 项" for f in flags]
        notes += list(message.notes)
        when = local_time(message.time)
        rows.append((when, {
            "类型": kind_label(pack_file.source.kind), "开始时间": when_text(message),
            "时间来源": TIME_SOURCE_LABELS.get(message.time_source or "", ""), "号码": message.number or "",
            "联系人": message.contact_name or message.sender or "", "接收人": message.received_by or "",
            "方向": direction_label(message.direction), "时长(秒)": "", "ID": message.id,
            "原始文件": pack_file.original_name, "转写或消息页": message_page(pack_file) or "",
            "categories": [f.row.category for f in flags],
            "备注": _redact(redactor, "；".join(notes))}))
    return rows


def evidence_rows(case: PackCase, annotated_sha256: dict[str, str], redactor: Redactor | None) -> list[tuple[str, ...]]:
    """The evidence list's rows for the packed message flags (序号 … 摘录), in number order."""
    files = {f.source.id: f for f in case.message_files}
    rows = []
    for flag in case.message_flags:
        pack_file = files[flag.source.id]
        message = flag.message
        who = party_text(message) if message is not None else "对方未知"
        received = f"（接收人：{flag.source.received_by}）" if flag.source.received_by else ""
        name = f"{flag.when()[:16]} 来自 {who} 的{flag.kind_label}{received}"
        source = [f"原始文件：{pack_file.original_name}", f"SHA-256：{flag.source.sha256}"]
        if pack_file.annotated_name and flag.row.boxes:
            source += [f"标注副本：{pack_file.annotated_name}",
                       f"SHA-256：{annotated_sha256.get(pack_file.annotated_name, '')}"]
        time = [flag.when()]
        if message is not None and message.time_source:
            time.append(f"（{TIME_SOURCE_LABELS.get(message.time_source, message.time_source)}）")
        proves = [flag.label + ("【待复核】" if flag.pending else "")]
        proves += [basis_citation(b) for b in citable_bases(flag.row.legal_basis)]
        text = ("消息原文：" if not pack_file.is_screenshot else "截图文字（机器识别，以原图为准）：") + flag.excerpt_text()
        if flag.row.match_text and not flag.is_log:
            text += f"\n（命中：“{flag.row.match_text}”）"
        if flag.row.note:
            text += f"\n复核备注：{flag.row.note}"
        rows.append((str(flag.number), name, "\n".join(source), "\n".join(time), "\n".join(proves),
                     redactor.text(text) if redactor else text))
    return rows


CONTACTS_HEADER = ("接收人", "关系", "通话", "消息", "截图", "对方号码", "最早", "最晚", "标记类别")


def contacts_csv(case: PackCase, redactor: Redactor | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CONTACTS_HEADER)
    for row in case.contacts:
        categories = "、".join(f"{category_label(c)}×{n}" for c, n in row.categories.items())
        cells = [row.person, row.relation, row.calls, row.messages, row.screenshots, "、".join(row.numbers),
                 (row.first or "")[:19], (row.last or "")[:19], categories]
        writer.writerow([safe_cell(_redact(redactor, str(cell))) for cell in cells])
    return "\ufeff" + buffer.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly only with it
