"""证据目录 (evidence_list.docx): one table row per evidence item, the form police and courts use.

An item is one sentence (or message) with all its categories (``pipeline.evidence.items``).
Columns: 序号, 证据名称, 说话人, 时间, 证明内容（类别与法律依据）, 转写摘录 (the widest), 文件.
File hashes do not fit a readable row: they go in an annex table (文件与 SHA-256) in a small
font. Column widths are written three times — the table grid (``w:tblGrid``, which LibreOffice
and WPS read), every cell (``w:tcW``, which Word reads) and a fixed layout — so no program
squeezes a column. When the pack has a contacts-reached table, it follows. Word picks a font per
script; without ``w:eastAsia`` it would fall back to a font that may lack Chinese glyphs, so
every run names a Chinese font for East Asian text.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from PIL import Image

from pipeline import __version__
from pipeline.evidence.call_files import transcript_path
from pipeline.evidence.facts import facts_only
from pipeline.evidence.items import EvidenceItem, speaker_label
from pipeline.evidence.legal import basis_citation, citable_bases, conduct_day
from pipeline.evidence.message_files import CONTACTS_HEADER, message_page
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCase
from pipeline.evidence.zipfiles import ZipDate, normalise_zip
from pipeline.render.call_log_charts import LogChartData, notes
from pipeline.render.call_log_png import LEGEND_GRID, LEGEND_PER_DAY, hour_grid_png, per_day_png
from pipeline.render.categories import DIRECTION_LABELS, category_label
from pipeline.render.message_view import TIME_SOURCE_LABELS, party_text
from pipeline.render.writers import MACHINE_NOTICE

CHINESE_FONT = "宋体"  # SimSun: on every Chinese Windows; WPS and LibreOffice map it
LATIN_FONT = "Times New Roman"
HEADERS = ("序号", "证据名称", "说话人", "时间", "证明内容（类别与法律依据）", "转写摘录", "文件")
COLUMN_WIDTHS_CM = (1.3, 3.6, 2.0, 3.3, 5.0, 7.5, 4.0)  # sum 26.7 = A4 landscape less 1.5 cm margins
ANNEX_HEADERS = ("文件", "SHA-256")
ANNEX_WIDTHS_CM = (9.7, 17.0)
TEXT_PT, SMALL_PT = 9.0, 7.0


def _set_fonts(run_or_style_element, size: float | None = None) -> None:
    """Latin and East Asian font on one run's (or style's) rPr."""
    rpr = run_or_style_element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr, font in (("w:ascii", LATIN_FONT), ("w:hAnsi", LATIN_FONT), ("w:eastAsia", CHINESE_FONT),
                       ("w:cs", LATIN_FONT)):
        fonts.set(qn(attr), font)
    if size is not None:
        for tag in ("w:sz", "w:szCs"):
            element = rpr.find(qn(tag))
            if element is None:
                element = OxmlElement(tag)
                rpr.append(element)
            element.set(qn("w:val"), str(int(size * 2)))


def _write(paragraph: Paragraph, text: str, *, bold: bool = False, size: float | None = None) -> None:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        run = paragraph.add_run(line)
        run.bold = bold or None
        _set_fonts(run._r, size)
        if i < len(lines) - 1:
            run.add_break()


def _cell(cell: _Cell, text: str, *, bold: bool = False, size: float = TEXT_PT) -> None:
    paragraph = cell.paragraphs[0]
    _write(paragraph, text, bold=bold, size=size)


def _fixed_widths(table: Table, widths_cm: tuple[float, ...]) -> None:
    """Column widths in the grid (LibreOffice, WPS), in every cell (Word), and a fixed layout."""
    tbl = table._tbl
    grid = tbl.tblGrid
    for col, width in zip(grid.findall(qn("w:gridCol")), widths_cm, strict=True):
        col.set(qn("w:w"), str(int(Cm(width).twips)))
    pr = tbl.tblPr
    layout = pr.find(qn("w:tblLayout"))
    if layout is None:
        layout = OxmlElement("w:tblLayout")
        pr.append(layout)
    layout.set(qn("w:type"), "fixed")
    total = pr.find(qn("w:tblW"))
    if total is None:
        total = OxmlElement("w:tblW")
        pr.append(total)
    total.set(qn("w:w"), str(int(Cm(sum(widths_cm)).twips)))
    total.set(qn("w:type"), "dxa")
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)


def _repeat_header(table: Table) -> None:
    """The header row repeats on every page."""
    tr_pr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _table(document: Document, headers: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[float, ...],
           size: float = TEXT_PT) -> Table:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        _cell(cell, header, bold=True)
    for values in rows:
        for cell, value in zip(table.add_row().cells, values, strict=True):
            _cell(cell, value, size=size)
    _fixed_widths(table, widths)
    _repeat_header(table)
    return table


def _call_name(item: EvidenceItem) -> str:
    call = item.lead.call
    who = call.number or "号码未知"
    when = (call.start_time or "").replace("T", " ")[:16] or "时间未知"
    direction = {"incoming": f"{who} 打来", "outgoing": f"打给 {who}"}.get(call.direction or "", f"与 {who}")
    person = "" if not call.received_by else f"（接听人：{call.received_by}）"
    if item.is_call_level:
        return f"{when} {direction}的通话（整通）{person}"
    return f"{when} {direction}的通话录音片段{person}"


def _call_time(item: EvidenceItem, padding_s: float) -> str:
    lead = item.lead
    lines = []
    wall = lead.wall_time()
    if wall:
        lines.append(f"{wall} 起" if not item.is_call_level else f"通话开始 {wall}")
    lines.append(f"录音内 {lead.time_range()}")
    if item.excerpt_name:
        lines.append(f"（摘录含前后各 {padding_s:g} 秒）")
    return "\n".join(lines)


def _proves(item: EvidenceItem) -> str:
    lines = [f"{e['label']}" + (f"×{e['count']}" if e["count"] > 1 else "") + ("【待复核】" if e["pending"] else "")
             for e in item.category_entries()]
    lines += [basis_citation(b) for b in citable_bases(item.legal_basis, conduct_day(item.wall_time()))]
    return "\n".join(lines)


def _excerpt(item: EvidenceItem, redactor: Redactor | None, prefix: str = "") -> str:
    if item.is_call_level:
        direction_known = item.source != "call" or item.lead.call.direction in DIRECTION_LABELS
        text = "；".join(dict.fromkeys(facts_only(f.excerpt_text(), direction_known=direction_known)
                                       for f in item.flags))
    else:
        text = prefix + item.excerpt_text()
        if item.matches:
            text += "\n（标记的词：" + "、".join(f"“{m}”" for m in item.matches) + "）"
    for note in item.notes:
        text += f"\n复核备注：{note}"
    return redactor.text(text) if redactor else text


def _files(item: EvidenceItem, original: str, annotated: str | None = None, page: str | None = None) -> str:
    """The item's files in the pack: original, excerpts, its transcript or message page, annotated copy."""
    lines = [f"原件：{original}"] + [f"摘录：{name}" for name in item.excerpt_names]
    if page:
        lines.append(f"{'转写' if item.source == 'call' else '消息'}：{page}")
    if annotated:
        lines.append(f"标注副本：{annotated}")
    return "\n".join(lines)


def _message_row(item: EvidenceItem, files: dict, redactor: Redactor | None) -> tuple[str, ...]:
    lead = item.lead
    pack_file = files[lead.source.id]
    message = lead.message
    who = party_text(message) if message is not None else "对方未知"
    received = f"（接收人：{lead.source.received_by}）" if lead.source.received_by else ""
    name = f"{lead.when()[:16]} 来自 {who} 的{lead.kind_label}{received}"
    time = [lead.when()]
    if message is not None and message.time_source:
        time.append(f"（{TIME_SOURCE_LABELS.get(message.time_source, message.time_source)}）")
    prefix = "截图文字（机器识别，以原图为准）：" if pack_file.is_screenshot else "消息原文："
    annotated = pack_file.annotated_name if any(f.row.boxes for f in item.flags) else None
    return (str(item.number), name, speaker_label(lead), "\n".join(time), _proves(item),
            _excerpt(item, redactor, prefix), _files(item, pack_file.original_name, annotated, message_page(pack_file)))


def _log_row(item: EvidenceItem, redactor: Redactor | None) -> tuple[str, ...]:
    """A finding over calls known only from the call log (no recording): the counted calls, their
    log files (the originals) and the finding's description."""
    lead = item.lead
    received = f"（接收人：{lead.received_by}）" if lead.received_by else ""
    count = lead.row.count or len(lead.entries)
    name = f"通话记录：{lead.row.number or '号码未知'} {lead.row.day or ''} 共 {count} 次{received}".replace("  ", " ")
    numbers = "、".join(dict.fromkeys(e.number or e.contact_name or "号码未知" for e in lead.entries))
    text = facts_only(lead.excerpt_text(), direction_known=True)
    if numbers and numbers not in text:
        text += f"\n（号码：{numbers}）"
    for note in item.notes:
        text += f"\n复核备注：{note}"
    files = "\n".join(f"原件：{f.original_name}（{len(f.entries)} 条记录）" for f in lead.files)
    return (str(item.number), name, speaker_label(lead), lead.when(), _proves(item),
            redactor.text(text) if redactor else text, files)


def _log_charts(document: Document, data: LogChartData) -> None:
    """Calls per day and the hour x day grid as pictures, the Chinese legend as text beside them."""
    _write(document.add_paragraph(), "通话记录统计图（全部来电，含未接和没有录音的）", bold=True, size=12)
    unanswered, off = sum(data.unanswered.values()), sum(data.off_hours.values())
    _write(document.add_paragraph(), f"共 {data.total} 次来电，其中未接 {unanswered} 次，22:00–08:00 {off} 次，"
           f"分布在 {len(data.days)} 天。" + "".join(notes(data)), size=9)
    for png, legend in ((per_day_png(data), LEGEND_PER_DAY), (hour_grid_png(data), LEGEND_GRID)):
        width_cm = min(26.0, Image.open(io.BytesIO(png)).width / (2 * 96) * 2.54 * 1.2)
        document.add_picture(io.BytesIO(png), width=Cm(width_cm))
        _write(document.add_paragraph(), legend, size=9)


def _content_time(case: PackCase) -> datetime:
    return datetime.fromisoformat(case.content_as_of.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _contacts_table(document: Document, case: PackCase, redactor: Redactor | None) -> None:
    _write(document.add_paragraph(), "联系人被骚扰情况（谁接到了电话和消息）", bold=True, size=12)
    _write(document.add_paragraph(), "每位接收人接到的电话和收到的消息（不含本人打出、发出的），及对方号码和已收录标记的类别。", size=9)
    rows = []
    for row in case.contacts:
        categories = "、".join(f"{category_label(c)}×{n}" for c, n in row.categories.items()) or "—"
        values = (row.person, row.relation or "—", str(row.calls), str(row.messages), str(row.screenshots),
                  "、".join(row.numbers) or "—", (row.first or "—")[:19], (row.last or "—")[:19], categories)
        rows.append(tuple(redactor.text(v) if redactor else v for v in values))
    _table(document, CONTACTS_HEADER, rows, (2.6, 1.8, 1.4, 1.4, 1.4, 4.6, 3.6, 3.6, 6.3))


def _annex_rows(case: PackCase, excerpt_sha256: dict[str, str], annotated_sha256: dict[str, str]
                ) -> list[tuple[str, str]]:
    rows = [(pc.original_name, pc.call.sha256) for pc in case.calls]
    rows += [(f.original_name, f.source.sha256) for f in case.message_files]
    rows += [(f.original_name, f.source.sha256) for f in case.log_files]
    rows += sorted(excerpt_sha256.items())
    rows += sorted(annotated_sha256.items())
    return rows


def evidence_list_docx(case: PackCase, *, excerpt_sha256: dict[str, str], padding_s: float,
                       redactor: Redactor | None, date_time: ZipDate,
                       annotated_sha256: dict[str, str] | None = None) -> bytes:
    """The evidence list as .docx bytes, reproducible (fixed properties and zip metadata)."""
    document = Document()
    _set_fonts(document.styles["Normal"].element, 10.5)
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))

    _write(document.add_paragraph(), "证据目录", bold=True, size=16)
    flags = len(case.flags) + len(case.message_flags) + len(case.log_flags)
    files = f"，短信/聊天记录/截图文件 {len(case.message_files)} 个" if case.message_files else ""
    files += f"，通话记录文件 {len(case.log_files)} 个" if case.log_files else ""
    counted = f"{flags} 处" if flags == case.evidence_count else f"标记 {flags} 处（{case.evidence_count} 句）"
    intro = (f"案件编号：{case.case_info.get('case_id', '')}    通话 {len(case.calls)} 个{files}，"
             f"证据 {case.evidence_count} 项（{counted}）\n"
             f"提交人：【请填写】    提交日期：【请填写】\n"
             f"说明：{MACHINE_NOTICE}。每项证据是一句话或一条消息，列出它的全部类别。录音原件在证据包 originals/ 中，"
             "摘录在 excerpts/ 中（文件名以证据序号开头）；"
             + ("短信、聊天记录和截图的原件也在 originals/ 中，截图的标注副本（红框标出有标记的文字行）在 "
                "screenshots_annotated/ 中；" if case.message_files else "")
             + ("通话记录文件（手机备份、运营商详单、截图或 calls.csv）的原件也在 originals/ 中，“通话记录（无录音）”"
                "一项是对没有录音的来电统计出的发现（深夜来电、频繁来电、轮换号码）；" if case.log_files else "")
             + "每个文件的 SHA-256 见本目录末尾的附表和 SHA256SUMS，可用 sha256sum -c SHA256SUMS 核对。")
    pending = sum(item.pending for item in case.all_items)
    if pending:
        intro += f"\n标注【待复核】的 {pending} 项尚未经人工确认。"
    _write(document.add_paragraph(), intro, size=10)

    originals = {c.call.id: c.original_name for c in case.calls}
    transcripts = {c.call.id: transcript_path(c, "html") for c in case.calls if c.transcript is not None}
    rows = [(str(item.number), _call_name(item), speaker_label(item.lead), _call_time(item, padding_s),
             _proves(item), _excerpt(item, redactor),
             _files(item, originals[item.lead.call.id], page=transcripts.get(item.lead.call.id)))
            for item in case.items]
    message_files = {f.source.id: f for f in case.message_files}
    rows += [_message_row(item, message_files, redactor) for item in case.message_items]
    rows += [_log_row(item, redactor) for item in case.log_items]
    _table(document, HEADERS, rows, COLUMN_WIDTHS_CM)
    if not case.evidence_count:
        _write(document.add_paragraph(), "（没有已确认的标记。请先复核：python cli.py review 案件文件夹）", size=10)
    if case.log_chart:
        _log_charts(document, case.log_chart)
    if case.contacts:
        _contacts_table(document, case, redactor)
    _write(document.add_paragraph(), "附表：文件校验值（SHA-256）", bold=True, size=12)
    _table(document, ANNEX_HEADERS, _annex_rows(case, excerpt_sha256, annotated_sha256 or {}), ANNEX_WIDTHS_CM,
           size=SMALL_PT)
    _write(document.add_paragraph(), f"由 callproof {__version__} 生成。", size=8)

    if redactor:  # every piece of text, whichever row, label or annex it came from
        for node in document.element.body.iter(qn("w:t")):
            if node.text:
                node.text = redactor.text(node.text)
    props = document.core_properties
    props.title, props.author, props.last_modified_by = "证据目录", "callproof", "callproof"
    props.created = props.modified = _content_time(case)
    props.revision = 1
    props.comments = MACHINE_NOTICE
    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue(), date_time)
