"""Annotated call pages and the case index, rendered from a real case built from samples/."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from review_fixtures import EVIL_TEXT, build_case

from pipeline.audio import sha256_file
from pipeline.render.categories import CATEGORIES, category_style
from pipeline.render.html_call import render_call_html
from pipeline.render.html_case import call_page_path, relative_href, write_case_html
from pipeline.render.writers import MACHINE_NOTICE
from pipeline.rules import load_engine, load_packs
from pipeline.store import CaseStore


class Page(HTMLParser):
    """Just enough of a DOM for the assertions: marks, links, segment texts, the flag list."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.marks: list[dict[str, str]] = []
        self.mark_text: dict[str, str] = defaultdict(str)  # flag number -> highlighted text
        self.links: list[str] = []
        self.scripts = 0
        self.seg_text: dict[int, str] = defaultdict(str)  # machine text of each segment line
        self.detail_ids: dict[str, str] = {}  # flag number -> store id
        self.low_text = ""
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        self.tags.append((tag, attrs))
        if tag == "mark":
            self.marks.append(attrs)
        if tag == "script":
            self.scripts += 1
        if tag in ("a", "audio") and (attrs.get("href") or attrs.get("src")):
            self.links.append(attrs.get("href") or attrs.get("src"))
        if tag == "li" and attrs.get("id", "").startswith("detail-"):
            self.detail_ids[attrs["id"].removeprefix("detail-")] = attrs.get("data-flag-id", "")
        if tag not in ("br", "meta", "link", "line", "rect", "circle"):
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        seg = next((a for t, a in reversed(self.stack) if t == "div" and a.get("id", "").startswith("seg-")), None)
        in_text = any(t == "p" and a.get("class") == "text" for t, a in self.stack)
        in_badge = any(t == "span" and a.get("class") == "check" for t, a in self.stack)
        if seg is not None and in_text and not in_badge:
            self.seg_text[int(seg["id"].removeprefix("seg-"))] += data
        for tag, attrs in self.stack:
            if tag == "mark":
                for number in attrs.get("data-flags", "").split():
                    self.mark_text[number] += data
                break
        if any(t == "span" and a.get("class") == "low" for t, a in self.stack):
            self.low_text += data


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory):
    case_dir = tmp_path_factory.mktemp("case")
    store = build_case(case_dir)
    written = write_case_html(case_dir, store)
    yield case_dir, store, written
    store.close()


def _page(case_dir: Path, call_id: str) -> Page:
    return Page(call_page_path(case_dir, call_id).read_text(encoding="utf-8"))


def test_every_call_and_the_index_are_written(case) -> None:
    case_dir, store, written = case
    calls = list(store.iter_calls())
    assert len(calls) == 4
    assert written == [call_page_path(case_dir, c.id) for c in calls] + [case_dir / "index.html"]
    assert all(p.is_file() and p.stat().st_size > 2000 for p in written)


def test_every_flag_is_highlighted_in_its_colour(case) -> None:
    case_dir, store, _ = case
    checked = 0
    for call in store.iter_calls():
        page = _page(case_dir, call.id)
        number_of = {flag_id: number for number, flag_id in page.detail_ids.items()}
        flags = store.call_flags(call.id)
        assert flags, f"sample call {call.id} should have flags"
        assert len(page.detail_ids) == len(flags)
        for flag in flags:
            number = number_of[str(flag.id)]
            if flag.level == "call":
                assert page.mark_text[number] == category_style(flag.category).label
                continue
            assert page.mark_text[number] == flag.match_text, (flag.category, flag.match_text)
            marks = [m for m in page.marks if number in m["data-flags"].split()]
            colour = category_style(flag.category).colour
            assert any(f"--c:{colour}" in m["style"] for m in marks)
            assert any(m.get("id") == f"flag-{number}" for m in marks)  # the anchor of the flag's first char
            assert all(m.get("tabindex") == "0" for m in marks)  # keyboard focus shows the explanation
            assert abs(float(marks[0]["data-t"]) - flag.start_s) < 0.002  # click plays from the flag
            checked += 1
    assert checked >= 15


def test_flag_details_explain_in_plain_chinese_with_technical_details_behind_a_toggle(case) -> None:
    """Category, words, law and what was checked in plain Chinese; rule id, regex, score and
    category code only inside the closed 技术细节 toggle."""
    case_dir, store, _ = case
    call = next(c for c in store.iter_calls() if c.source_path.endswith(".oga"))
    html = call_page_path(case_dir, call.id).read_text(encoding="utf-8")
    flag = next(f for f in store.call_flags(call.id) if f.category == "IMPERSONATION")
    detail = html[html.index(f'data-flag-id="{flag.id}"'):]
    detail = detail[: detail.index("</li>")]
    plain, _, technical = detail.partition('<details class="tech">')
    for expected in ("冒充公检法/律师/政府", "刑法第279条", "说话人是催收方", flag.match_text):
        assert expected in plain
    for jargon in (flag.rule, "IMPERSONATION", "CL-279", "(?:", f"{flag.score:.2f}"):
        assert jargon not in plain, jargon
        assert jargon in technical, jargon
    assert "<summary>技术细节</summary>" in technical


def test_transcript_text_is_escaped(case) -> None:
    case_dir, store, _ = case
    call = next(c for c in store.iter_calls() if c.source_path.endswith(".amr"))
    html = call_page_path(case_dir, call.id).read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<b>老赖" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    page = Page(html)
    assert page.scripts == 1  # only the page's own player script
    assert page.seg_text[1] == EVIL_TEXT
    insult = next(f for f in store.call_flags(call.id) if f.segment_idx == 1)
    assert insult.match_text == "老赖"  # a flag inside the escaped text still lands on the right characters
    number = {v: k for k, v in page.detail_ids.items()}[str(insult.id)]
    assert page.mark_text[number] == "老赖"


def test_low_confidence_words_are_marked_for_listening(case) -> None:
    case_dir, store, _ = case
    call = next(iter(store.iter_calls()))
    html = call_page_path(case_dir, call.id).read_text(encoding="utf-8")
    transcript = store.load_transcript(call.id)
    low_words = [w.text for s in transcript.segments for w in s.words if w.probability < 0.5]
    assert low_words
    page = Page(html)
    assert page.low_text == "".join(low_words)  # exactly the unsure characters sit in .low spans
    unsure = [s.index for s in transcript.segments if any(w.probability < 0.5 for w in s.words)]
    for idx in unsure:
        line = html[html.index(f'id="seg-{idx}"'):]
        assert '<span class="check"' in line[: line.index("</div></div>")]
    assert html.count('<span class="check"') == len(unsure)


def test_header_notice_and_audio(case) -> None:
    case_dir, store, _ = case
    for call in store.iter_calls():
        page_path = call_page_path(case_dir, call.id)
        html = page_path.read_text(encoding="utf-8")
        assert html.count(MACHINE_NOTICE) >= 2
        assert call.sha256 in html and call.number in html and "时长" in html
        src = re.search(r'<audio id="player"[^>]* src="([^"]+)"', html).group(1)
        target = (page_path.parent / unquote(src)).resolve()
        assert target == Path(call.source_path).resolve()
        assert sha256_file(target) == call.sha256


def test_off_hours_call_flag_is_in_the_header(case) -> None:
    case_dir, store, _ = case
    call = next(c for c in store.iter_calls() if c.start_time and c.start_time[11:13] == "22")
    html = call_page_path(case_dir, call.id).read_text(encoding="utf-8")
    header = html[: html.index("</header>")]
    assert "整通电话的标记" in header and "非时段催收" in header and "22:34" in header


def test_index_links_resolve_and_timeline_shades_off_hours(case) -> None:
    case_dir, store, _ = case
    html = (case_dir / "index.html").read_text(encoding="utf-8")
    page = Page(html)
    call_links = [h for h in page.links if h.startswith("calls/")]
    assert len(set(call_links)) == 4
    for href in page.links:
        assert (case_dir / unquote(href)).is_file(), href
    for call in store.iter_calls():  # and every call page's own links (audio, file link)
        call_page = Page(call_page_path(case_dir, call.id).read_text(encoding="utf-8"))
        for href in call_page.links:
            assert (call_page_path(case_dir, call.id).parent / unquote(href)).is_file(), href
    rects = [a for t, a in page.tags if t == "rect" and a.get("class") == "off"]
    assert [float(r["width"]) for r in rects] == [8 * 36, 2 * 36]  # 00–08 and 22–24
    assert sum(1 for t, _ in page.tags if t == "circle") == 4
    assert MACHINE_NOTICE in html


def test_index_counts_flags_per_category_and_per_number(case) -> None:
    case_dir, store, _ = case
    html = (case_dir / "index.html").read_text(encoding="utf-8")
    for category in {f.category for f in store.all_flags()}:
        assert category_style(category).label in html
    row = re.search(r"<tr><td>13800138000[^<]*</td><td class=\"num\">(\d+)</td>.*?</tr>", html)
    assert row and row.group(1) == "3"
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(0))
    assert cells[-2] == "1"  # one off-hours call (22:34)


def test_reviews_and_corrections_show_after_rewrite(tmp_path: Path) -> None:
    store = build_case(tmp_path)
    try:
        call = next(c for c in store.iter_calls() if c.source_path.endswith(".m4a"))
        flags = store.call_flags(call.id)
        store.set_flag_status(flags[0].id, "accepted")
        store.set_flag_status(flags[1].id, "rejected")
        store.correct_segment(call.id, 3, "人工改过的文字 <i>")
        write_case_html(tmp_path, store)
        html = call_page_path(tmp_path, call.id).read_text(encoding="utf-8")
        page = Page(html)
        assert str(flags[1].id) not in page.detail_ids.values()  # rejected: left out
        assert str(flags[0].id) in page.detail_ids.values()
        assert '<mark class="flag accepted"' in html and "已确认" in html
        assert "人工校对</span>人工改过的文字 &lt;i&gt;" in html
        machine = store.segments(call.id)[3].text
        assert page.seg_text[3] == machine  # the machine text stays, beside the correction
    finally:
        store.close()


def test_render_call_html_takes_rules_engine_dicts(case) -> None:
    _, store, _ = case
    call = next(c for c in store.iter_calls() if c.source_path.endswith(".oga"))
    transcript = store.load_transcript(call.id)
    flags = [f.to_dict() for f in load_engine().flag_segments(transcript.segments)]
    assert flags and all("start" in f and "segment_index" in f for f in flags)
    page = Page(render_call_html(transcript, flags, {"number": "110", "start": "2024-01-16T21:30:00"}, "a.oga"))
    for number, flag in enumerate(flags, start=1):
        assert page.mark_text[str(number)] == flag["match"]
    assert "a.oga" in page.links


def test_every_rule_pack_category_has_our_label_and_colour() -> None:
    for pack in load_packs():
        for code, category in pack.categories.items():
            assert code in CATEGORIES, code
            assert CATEGORIES[code].label == category.label


def test_relative_href_quotes_names_and_resolves(tmp_path: Path) -> None:
    original = tmp_path / "录音 文件" / "通话录音@张三(138)_#1.mp3"
    original.parent.mkdir()
    original.write_bytes(b"x")
    page_dir = tmp_path / "case" / "calls" / "abc"
    page_dir.mkdir(parents=True)
    href = relative_href(original, page_dir)
    assert " " not in href and "#" not in href and href.startswith("../../../")
    assert (page_dir / unquote(href)).resolve() == original.resolve()


def test_case_without_calls_renders_an_empty_index(tmp_path: Path) -> None:
    with CaseStore.open(tmp_path) as store:
        assert write_case_html(tmp_path, store) == [tmp_path / "index.html"]
    assert "共 0 通电话" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_write_case_html_is_importable_from_html_index() -> None:
    from pipeline.render.html_index import write_case_html as via_index

    assert via_index is write_case_html
