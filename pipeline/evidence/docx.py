"""证据目录 (evidence_list.docx): one table row per packed flag, the form police and courts use.

Columns: 序号, 证据名称, 证据来源（原始文件与 SHA-256）, 时间范围, 证明内容（类别与法律依据）,
转写摘录. Call flags come first, then message flags (SMS, chats, screenshots: the message text
as the 摘录). When the pack has a contacts-reached table, it follows as a second table. Word picks a font per script; without ``w:eastAsia`` it would fall back to a font
that may lack Chinese glyphs, so every run names a Chinese font for East Asian text.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from pipeline import __version__
from pipeline.evidence.legal import basis_citation, citable_bases
from pipeline.evidence.message_files import CONTACTS_HEADER, evidence_rows
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import PackCase, PackFlag
from pipeline.evidence.zipfiles import ZipDate, normalise_zip
from pipeline.render.categories import category_label
from pipeline.render.writers import MACHINE_NOTICE

CHINESE_FONT = "宋体"  # SimSun: on every Chinese Windows; WPS and LibreOffice map it
LATIN_FONT = "Times New Roman"
HEADERS = ("序号", "证据名称", "证据来源（原始文件与 SHA-256）", "时间范围", "证明内容（类别与法律依据）", "转写摘录")
COLUMN_WIDTHS_CM = (1.2, 4.2, 5.6, 3.8, 5.4, 6.4)


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


def _cell(cell: _Cell, text: str, *, bold: bool = False, size: float = 9) -> None:
    paragraph = cell.paragraphs[0]
    _write(paragraph, text, bold=bold, size=size)


def _name(flag: PackFlag) -> str:
    who = flag.call.number or "号码未知"
    when = (flag.call.start_time or "").replace("T", " ")[:16] or "时间未知"
    if flag.is_call_level:
        return f"{when} 来自 {who} 的通话录音（整通）"
    return f"{when} 与 {who} 通话录音片段\n{flag.excerpt_name or ''}".strip()


def _source(flag: PackFlag, original: str, excerpt_sha256: dict[str, str]) -> str:
    lines = [f"原始录音：{original}", f"SHA-256：{flag.call.sha256}"]
    if flag.excerpt_name and flag.excerpt_name in excerpt_sha256:
        lines += [f"摘录：{flag.excerpt_name}", f"SHA-256：{excerpt_sha256[flag.excerpt_name]}"]
    return "\n".join(lines)


def _time(flag: PackFlag, padding_s: float) -> str:
    lines = []
    wall = flag.wall_time()
    if wall:
        lines.append(f"{wall} 起" if not flag.is_call_level else f"通话开始 {wall}")
    lines.append(f"录音内 {flag.time_range()}")
    if flag.excerpt_name:
        lines.append(f"（摘录含前后各 {padding_s:g} 秒）")
    return "\n".join(lines)


def _proves(flag: PackFlag) -> str:
    lines = [flag.label + ("【待复核】" if flag.pending else "")]
    lines += [basis_citation(b) for b in citable_bases(flag.row.legal_basis)]
    return "\n".join(lines)


def _excerpt(flag: PackFlag, redactor: Redactor | None) -> str:
    text = flag.excerpt_text()
    if flag.row.match_text and not flag.is_call_level:
        text += f"\n（命中：“{flag.row.match_text}”）"
    if flag.row.note:
        text += f"\n复核备注：{flag.row.note}"
    return redactor.text(text) if redactor else text


def _content_time(case: PackCase) -> datetime:
    return datetime.fromisoformat(case.content_as_of.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def _contacts_table(document: Document, case: PackCase, redactor: Redactor | None) -> None:
    _write(document.add_paragraph(), "联系人被骚扰情况（谁接到了电话和消息）", bold=True, size=12)
    _write(document.add_paragraph(), "每位接收人接到的电话和收到的消息（不含本人打出、发出的），及对方号码和已收录标记的类别。", size=9)
    table = document.add_table(rows=1, cols=len(CONTACTS_HEADER))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, CONTACTS_HEADER, strict=True):
        _cell(cell, header, bold=True)
    for row in case.contacts:
        categories = "、".join(f"{category_label(c)}×{n}" for c, n in row.categories.items()) or "—"
        values = (row.person, row.relation or "—", str(row.calls), str(row.messages), str(row.screenshots),
                  "、".join(row.numbers) or "—", row.first or "—", row.last or "—", categories)
        for cell, value in zip(table.add_row().cells, values, strict=True):
            _cell(cell, redactor.text(value) if redactor else value)


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
    originals = {c.call.id: c.original_name for c in case.calls}
    files = f"，短信/聊天记录/截图文件 {len(case.message_files)} 个" if case.message_files else ""
    intro = (f"案件编号：{case.case_info.get('case_id', '')}    通话 {len(case.calls)} 个{files}，证据 {case.evidence_count} 项\n"
             f"提交人：【请填写】    提交日期：【请填写】\n"
             f"说明：{MACHINE_NOTICE}。录音原件在证据包 originals/ 中，摘录在 excerpts/ 中；"
             + ("短信、聊天记录和截图的原件也在 originals/ 中，截图的标注副本（红框标出有标记的文字行）在 "
                "screenshots_annotated/ 中；" if case.message_files else "")
             + "每个文件的 SHA-256 见 SHA256SUMS，可用 sha256sum -c SHA256SUMS 核对。")
    if any(f.pending for f in [*case.flags, *case.message_flags]):
        intro += "\n标注【待复核】的项目尚未经人工确认。"
    _write(document.add_paragraph(), intro, size=10)

    table = document.add_table(rows=1, cols=len(HEADERS))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, HEADERS, strict=True):
        _cell(cell, header, bold=True)
    for flag in case.flags:
        cells = table.add_row().cells
        values = (str(flag.number), _name(flag), _source(flag, originals[flag.call.id], excerpt_sha256),
                  _time(flag, padding_s), _proves(flag), _excerpt(flag, redactor))
        for cell, value in zip(cells, values, strict=True):
            _cell(cell, value)
    for values in evidence_rows(case, annotated_sha256 or {}, redactor):
        for cell, value in zip(table.add_row().cells, values, strict=True):
            _cell(cell, value)
    for row in table.rows:
        for cell, width in zip(row.cells, COLUMN_WIDTHS_CM, strict=True):
            cell.width = Cm(width)
    if not case.evidence_count:
        _write(document.add_paragraph(), "（没有已确认的标记。请先复核：python cli.py review 案件文件夹）", size=10)
    if case.contacts:
        _contacts_table(document, case, redactor)
    _write(document.add_paragraph(), f"由 callproof {__version__} 生成。", size=8)

    props = document.core_properties
    props.title, props.author, props.last_modified_by = "证据目录", "callproof", "callproof"
    props.created = props.modified = _content_time(case)
    props.revision = 1
    props.comments = MACHINE_NOTICE
    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue(), date_time)
