"""The pack a clerk reads, on the demo case (samples/, no ASR: tests/review_fixtures.py).

One sentence is one evidence item with all its categories, in the evidence list, the drafts and
the pack index; drafts hold facts only (hints go to 核对清单.txt); direction-unknown calls are
not 来电; a call a relative took is said to be hers; 12321 quotes the most severe items first;
pending items are marked everywhere; the DOCX renders in LibreOffice with no squeezed column;
no HTML a clerk opens shows a regex, a rule id or a category code outside 技术细节; every link
of the pack index resolves inside the unzipped pack; the law cited is the one in force on the
date of the conduct.
"""

from __future__ import annotations

import getpass
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from docx import Document
from docx.oxml.ns import qn
from review_fixtures import build_case

from pipeline.evidence import PackOptions, export_pack
from pipeline.evidence.docx import COLUMN_WIDTHS_CM, HEADERS
from pipeline.evidence.facts import HINT_MARKERS, facts_only
from pipeline.evidence.legal import basis_citation, citable_bases
from pipeline.render.categories import CATEGORIES
from pipeline.store import CaseStore

RELATIVE = "母亲"
DRAFTS = ("complaints/12321.txt", "complaints/12378.txt", "complaints/110_statement.txt", "complaints/nifa.txt")
CHECKLIST = "complaints/核对清单.txt"


@dataclass
class Pack:
    root: Path  # the unzipped pack
    case_dir: Path
    pending: set[int]  # flag ids left pending (packed with --include-pending)
    relative_call: str  # the call 母亲 took
    corrected: tuple[str, int]  # (call id, segment idx) a reviewer corrected

    def text(self, name: str) -> str:
        return (self.root / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Pack:
    root = tmp_path_factory.mktemp("items")
    store = build_case(root / "case")
    calls = list(store.iter_calls())
    flags = [f for c in calls for f in store.call_flags(c.id)]
    pending = {f.id for f in flags if f.match_text in ("坐牢", "打断你的腿", "别的平台借")}
    for flag in flags:
        store.set_flag_status(flag.id, "pending" if flag.id in pending else "accepted")
    relative = next(c for c in calls if c.source_path.endswith(".m4a"))
    with store.transaction() as conn:
        conn.execute("UPDATE calls SET received_by = ? WHERE id = ?", (RELATIVE, relative.id))
    oga = next(c for c in calls if c.source_path.endswith(".oga"))
    store.correct_segment(oga.id, 4, "我们的人已经出发了，马上就到你家楼下。")
    store.close()
    export_pack(root / "case", root / "pack.zip", PackOptions(include_pending=True))
    with zipfile.ZipFile(root / "pack.zip") as archive:
        archive.extractall(root / "pack")
    return Pack(root / "pack", root / "case", pending, relative.id, (oga.id, 4))


def _flags(pack: Pack) -> list:
    with CaseStore.open(pack.case_dir) as store:
        return [f for c in store.iter_calls() for f in store.call_flags(c.id)]


def _docx_rows(pack: Pack) -> list[list[str]]:
    table = Document(str(pack.root / "evidence_list.docx")).tables[0]
    return [[c.text for c in row.cells] for row in table.rows]


# ------------------------------------------------------------------ one sentence, one item


def test_one_sentence_is_one_row_in_the_evidence_list(pack: Pack) -> None:
    rows = _docx_rows(pack)
    assert tuple(rows[0]) == HEADERS
    body = rows[1:]
    assert [r[0] for r in body] == [str(n) for n in range(1, len(body) + 1)]
    quotes = [r[5].split("\n")[0] for r in body]
    assert len(quotes) == len(set(quotes)), "a sentence has two rows"
    assert len(body) < len(_flags(pack))  # the demo case has sentences with two flags
    jail = next(r for r in body if "抓你去坐牢" in r[5])
    assert "虚假/夸大法律后果×2" in jail[4]  # 抓你 and 坐牢: one row, the category counted twice
    police = next(r for r in body if "城东派出所" in r[5])
    assert "冒充公检法/律师/政府" in police[4] and "虚假/夸大法律后果" in police[4]
    assert all(r[2] for r in body), "every row names the speaker"
    assert {r[2] for r in body} <= {"催收方", "借款人", "第三人", "说话人未确认", "整通电话（通话记录）"}


def test_drafts_quote_each_sentence_once_and_count_honestly(pack: Pack) -> None:
    statement = pack.text("complaints/110_statement.txt")
    for sentence in ("就抓你去坐牢", "我是城东派出所的民警", "马上就到你家楼下", "派人上门，到你家"):
        assert statement.count(sentence) == 1, sentence
    section_two = statement.split("二、")[1].split("三、")[0]
    assert "“" not in section_two  # section 二 lists categories and numbers, it does not repeat the quotes
    assert re.search(r"虚假/夸大法律后果：\d+ 处（\d+ 句", section_two)
    for name in DRAFTS:
        text = pack.text(name)
        for match in re.finditer(r"(\d+) 处（(\d+) 句", text):
            assert int(match[1]) > int(match[2])  # "N 处（M 句）" only where they differ


# ------------------------------------------------------------------ facts only


def test_drafts_hold_facts_and_the_checklist_holds_the_hints(pack: Pack) -> None:
    for name in DRAFTS:
        text = pack.text(name)
        for marker in (*HINT_MARKERS, "机器转写", "请核"):
            assert marker not in text, f"{name}: {marker}"
        assert "来电" not in text, f"{name}: a call of unknown direction described as 来电"
    checklist = pack.text(CHECKLIST)
    with CaseStore.open(pack.case_dir) as store:
        unknown = sum(c.direction is None for c in store.iter_calls())
    assert unknown and checklist.count("通话方向未知（可能是本人拨出），请核对") == unknown
    assert "尚未复核" in checklist and "不要粘贴" in checklist


def test_drafts_say_to_whom_each_call_was_made(pack: Pack) -> None:
    statement = pack.text("complaints/110_statement.txt")
    line = next(ln for ln in statement.splitlines() if "13912345678 与我的联系人母亲通话" in ln)
    assert "向我催收" not in line
    assert "与我及我的联系人通话" in statement or "13912345678 与我的联系人母亲" in statement
    assert "13912345678 与我的联系人母亲通话" in pack.text("complaints/12321.txt")


def test_facts_only_drops_hints_and_norms_and_never_says_laidian_for_unknown_direction() -> None:
    text = ("来电开始于当地时间 2024-01-15 22:34，在 22:00–08:00 之间。GB/T 45251 与银行业协会催收指引禁止在此时段催收"
            "（债务人同意的除外）。通话方向未知（可能是本人拨出），请核对")
    assert facts_only(text, direction_known=False) == "通话开始于当地时间 2024-01-15 22:34，在 22:00–08:00 之间。"
    assert facts_only(text).startswith("来电开始于")


# ------------------------------------------------------------------ strongest first, pending marked


def test_12321_quotes_the_most_severe_confirmed_items_first(pack: Pack) -> None:
    text = pack.text("complaints/12321.txt")
    description = text.split("举报描述（可直接粘贴）：")[1]
    quoted = re.findall(r"(?:对方说|内容为)：“([^”]+)”", description)
    assert len(quoted) == 5
    severity = {}
    for flag in _flags(pack):
        if flag.level == "segment":
            severity[flag.match_text] = max(severity.get(flag.match_text, 0), flag.severity or 0)
    top = [max((s for m, s in severity.items() if m in q), default=0) for q in quoted]
    assert top == sorted(top, reverse=True) and top[0] == 3
    assert "【待复核】" not in description.split("另有")[0]  # confirmed items fill the five places
    assert re.search(r"另有 \d+ 处，见证据目录。", description)


def test_include_pending_marks_every_pending_item_in_every_draft_and_count(pack: Pack) -> None:
    flags = {f.id: f for f in _flags(pack)}
    pending_sentences = {flags[i].match_text for i in pack.pending}
    statement = pack.text("complaints/110_statement.txt")
    for line in statement.splitlines():
        if any(m and m in line for m in pending_sentences) and "【证据" in line:
            assert "【待复核】" in line, line
    for name in ("complaints/12378.txt",):
        for line in pack.text(name).splitlines():
            if "【证据" in line and any(m in line for m in pending_sentences):
                assert "【待复核】" in line, line
    rows = _docx_rows(pack)[1:]
    for row in rows:
        if any(m in row[5] for m in pending_sentences):
            assert "【待复核】" in row[4]
    count = len({r[0] for r in rows if "【待复核】" in r[4]})
    assert f"其中 {count} 项尚未复核" in pack.text(CHECKLIST)
    assert f"标注【待复核】的 {count} 项" in "\n".join(p.text for p in Document(str(pack.root / "evidence_list.docx")).paragraphs)


# ------------------------------------------------------------------ the DOCX in Word, WPS and LibreOffice


def test_docx_widths_are_in_the_grid_and_the_cells(pack: Pack) -> None:
    document = Document(str(pack.root / "evidence_list.docx"))
    table = document.tables[0]
    grid = [int(c.get(qn("w:w"))) for c in table._tbl.tblGrid.findall(qn("w:gridCol"))]
    assert grid == [int(w * 567.0 + 0.5) // 1 or 1 for w in COLUMN_WIDTHS_CM] or \
        all(abs(g - w * 566.93) < 2 for g, w in zip(grid, COLUMN_WIDTHS_CM, strict=True))
    assert max(grid) == grid[HEADERS.index("转写摘录")]  # the quote column is the widest
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    for row in table.rows:
        assert [c.width for c in row.cells] == [table.rows[0].cells[i].width for i in range(len(HEADERS))]
    annex = document.tables[-1]
    assert annex.rows[0].cells[1].text == "SHA-256" and len(annex.rows) > len(_docx_rows(pack))
    assert not any(re.fullmatch(r"[0-9a-f]{64}", line) for r in _docx_rows(pack) for c in r for line in c.split("\n"))


def test_docx_renders_in_libreoffice_with_no_squeezed_column(pack: Pack, tmp_path: Path) -> None:
    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if not soffice or not pdftotext:
        pytest.skip("LibreOffice and poppler-utils are needed: apt-get install libreoffice-writer-nogui poppler-utils")
    out = tmp_path / "pdf"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--convert-to",
                    "pdf", "--outdir", str(out), str(pack.root / "evidence_list.docx")],
                   check=True, capture_output=True, timeout=180)
    pdf = out / "evidence_list.pdf"
    pages = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    page_count = int(re.search(r"Pages:\s+(\d+)", pages)[1])
    assert 1 <= page_count <= 6, page_count  # 16 items and the annex, landscape
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    header_line = next((ln for ln in text.splitlines() if "序号" in ln and "说话人" in ln), "")
    for header in ("序号", "证据名称", "说话人", "时间", "转写摘录", "文件"):
        assert header in header_line, f"header {header} wrapped: {header_line!r}"  # a column narrower than its header wraps it
    assert "证明内容（类别与法律依据）" in text.replace("\n", "").replace(" ", "") or "证明内容" in header_line


# ------------------------------------------------------------------ HTML a clerk opens


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.duplicate_ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if attrs.get("id"):
            if attrs["id"] in self.ids:
                self.duplicate_ids.append(attrs["id"])
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append(attrs[key])


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(root: Path) -> list[str]:
    """Every link or source of every HTML page of an unzipped pack (index.html, transcripts/,
    messages/) that does not resolve to a file inside the pack, or to an id on its page; and every
    id a page defines twice (a link to it would be ambiguous)."""
    broken = []
    for page in sorted(root.rglob("*.html")):
        if page.relative_to(root).parts[0] in ("originals", "originals_redacted"):
            continue  # the user's own files (a chat export may be HTML), not pages of the pack
        parsed = _parse(page)
        broken += [f"{page.relative_to(root).as_posix()}: id {i} (defined twice)" for i in parsed.duplicate_ids]
        for link in parsed.links:
            parts = urlsplit(link)
            where = f"{page.relative_to(root).as_posix()}: {link}"
            if parts.scheme or parts.netloc:
                broken.append(f"{where} (outside the pack)")
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.is_relative_to(root.resolve()) or not target.is_file():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
                broken.append(f"{where} (no such id)")
    return broken


def _visible(html: str) -> str:
    html = re.sub(r"<details class=\"tech\">.*?</details>", "", html, flags=re.S)
    html = re.sub(r"<(script|style)>.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_no_regex_rule_id_or_category_code_in_html_a_clerk_opens(pack: Pack) -> None:
    rules = {f.rule for f in _flags(pack)}
    pages = [pack.root / "index.html", *sorted((pack.root / "transcripts").glob("*.html"))]
    for page in pages:
        visible = _visible(page.read_text(encoding="utf-8"))
        for rule in rules:
            assert rule not in visible, f"{page.name}: rule id {rule}"
        for code in CATEGORIES:
            assert code not in visible, f"{page.name}: category code {code}"
        assert "(?:" not in visible and "\\d" not in visible, page.name
        assert not re.search(r"\b(?:CL|PSL|CC|PIPL|GBT|CBA|SV|CPM)-\d", visible), f"{page.name}: legal basis id"


def test_pack_index_links_resolve_inside_the_unzipped_pack(pack: Pack) -> None:
    index = _parse(pack.root / "index.html")
    assert index.links
    for link in index.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, link  # nothing outside the pack
        if not parts.path:
            assert parts.fragment in index.ids, link
            continue
        target = pack.root / unquote(parts.path)
        assert target.is_file(), link
        if parts.fragment:
            assert parts.fragment in _parse(target).ids, link
    assert any(link.startswith("excerpts/") for link in index.links)  # excerpts play from inside the pack
    assert broken_links(pack.root) == []  # the transcripts' links (and any message page's) too


def test_file_names_are_readable_and_carry_the_item_number(pack: Pack) -> None:
    excerpts = sorted(p.name for p in (pack.root / "excerpts").iterdir())
    assert excerpts and all(re.fullmatch(r"\d{2}[a-z]?_\d{4}-\d{2}-\d{2}_\d{4}_\w+\.wav", n) for n in excerpts), excerpts
    transcripts = sorted(p.name for p in (pack.root / "transcripts").glob("*.html"))
    assert "2024-01-15_2234_13800138000.html" in transcripts
    rows = _docx_rows(pack)[1:]
    for name in excerpts:  # the number in the file name is the row that lists the file
        number = int(re.match(r"\d+", name)[0])
        assert f"excerpts/{name}" in rows[number - 1][6]


def test_a_correction_shows_human_check_and_local_time_not_a_login(pack: Pack) -> None:
    call_id, _ = pack.corrected
    page = next(p for p in (pack.root / "transcripts").glob("*.html") if "2130" in p.name)
    html = page.read_text(encoding="utf-8")
    correction = html[html.index('class="correction"'):]
    correction = correction[: correction.index("</p>")]
    assert "人工校对" in correction and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} 校对", correction)
    assert getpass.getuser() not in correction and not re.search(r"T\d{2}:\d{2}", correction)


# ------------------------------------------------------------------ law in force on the date


def test_law_is_cited_as_in_force_on_the_date_of_the_conduct(pack: Pack) -> None:
    assert citable_bases(["PSL-42"], date(2024, 1, 15)) == ["PSL-42"]
    assert citable_bases(["PSL-42"], date(2026, 3, 1)) == ["PSL-2025-50"]
    assert basis_citation("PSL-2025-50").startswith("治安管理处罚法（2025修订）第50条")  # text read: status V
    assert citable_bases(["PSL-51"], date(2026, 1, 1)) == ["PSL-2025-62"]
    assert citable_bases(["CBA-2026"], date(2024, 1, 15)) == []  # not yet issued: not cited
    assert set(citable_bases(["PSL-42"], None)) == {"PSL-42", "PSL-2025-50"}
    for name in DRAFTS:  # the demo calls are from January 2024: the 2012 law, never the 2025 revision
        text = pack.text(name)
        assert "2025修订" not in text and "银行业协会《金融机构个人消费类贷款催收工作指引" not in text
    assert "治安管理处罚法（2012）第42条" in pack.text("complaints/110_statement.txt")


def test_export_says_how_many_flags_are_unreviewed_and_what_to_do(pack: Pack, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["export", str(pack.case_dir), "-o", str(tmp_path / "p.zip")])
    assert result.exit_code == 0, result.output
    assert f"还有 {len(pack.pending)} 处标记没有复核" in result.output
    assert "python cli.py review" in result.output and "--include-pending" in result.output
    assert "index.html" in result.output and "核对清单" in result.output  # what to open next
