"""Messages and screenshots in the case HTML: beside calls in the index (timeline, per number,
message files, contacts reached) and a page per message file (flags highlighted, escaped text,
the screenshot's annotated copy with the original untouched)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import pytest
from message_fixtures import COLLECTOR, SHOT_NAME, MessageCase, build_message_case
from PIL import Image

from pipeline.render.categories import category_label
from pipeline.render.html_case import write_case_html


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MessageCase]:
    built = build_message_case(tmp_path_factory.mktemp("message_html"))
    shot = Path(built.store.get_message_source(built.shot_id).source_path)
    built.original = (shot.read_bytes(), shot.stat().st_mtime_ns)  # type: ignore[attr-defined]
    write_case_html(built.case_dir, built.store)
    yield built
    built.store.close()


def _index(case: MessageCase) -> str:
    return (case.case_dir / "index.html").read_text(encoding="utf-8")


def _page(case: MessageCase, source_id: str) -> str:
    return (case.case_dir / "messages" / source_id / "messages.html").read_text(encoding="utf-8")


def test_index_lists_message_files_with_flag_counts_and_links(case: MessageCase) -> None:
    html = _index(case)
    section = html.split('<section id="messages">')[1].split("</section>")[0]
    for name in ("sms-20240116.xml", "qq.txt", SHOT_NAME):
        assert name in section
    links = re.findall(r'href="([^"]+messages\.html[^"]*)"', html)
    assert {unquote(link.split("#")[0]) for link in links} == {
        f"messages/{i}/messages.html" for i in (case.sms_id, case.chat_id, case.shot_id)}
    for link in links:
        assert (case.case_dir / unquote(link.split("#")[0])).is_file()
    row = next(r for r in section.split("<tr>") if "sms-20240116.xml" in r)
    assert "5（收到 4，发出 1）" in row and "本人" in row
    assert f"{category_label('CONTACTS_BLAST')} × 2" in row  # two flagged spans in one SMS


def test_timeline_marks_the_other_sides_messages_beside_calls(case: MessageCase) -> None:
    html = _index(case)
    svg = html.split('<svg class="timeline"')[1].split("</svg>")[0]
    calls = svg.count("<circle")
    marks = re.findall(r'<path class="msg"[^>]*fill="(#[0-9a-f]+)"><title>([^<]+)</title>', svg)
    assert calls == 4
    # 3 SMS from the collector (not the reply, not the bank), 1 chat message, 1 screenshot bubble
    assert len(marks) == 5
    titles = [unescape(t) for _, t in marks]
    assert not any("95588" in t for t in titles)
    assert any(t.startswith("2024-01-15 23:40 短信 13800138000") and "标记" in t for t in titles)
    flagged = [c for c, t in marks if "标记" in t]
    assert flagged and set(flagged) == {"#c0392b"}
    assert "有标记的消息" in html and "点击菱形打开该条消息" in html


def test_number_table_counts_calls_and_messages(case: MessageCase) -> None:
    html = _index(case)
    table = html.split("<h2>按对方号码统计</h2>")[1].split("</table>")[0]
    assert "<th>消息数</th>" in table
    row = next(r for r in table.split("<tr>") if r.startswith(f"<td>{COLLECTOR}"))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[1:3] == ["3", "4"]  # three sample calls, four messages (3 SMS + the screenshot bubble)
    assert any(r.startswith("<td>催收-李四") for r in table.split("<tr>"))  # a chat counterpart by name


def test_contacts_reached_table(case: MessageCase) -> None:
    html = _index(case)
    table = html.split('<section id="contacts">')[1].split("</section>")[0]
    rows = {re.findall(r"<td>([^<]*)</td>", r)[0]: r for r in table.split("<tr>")[2:]}
    assert {"本人", "母亲", "同事王某", "未注明"} <= set(rows)
    mother = re.findall(r"<td[^>]*>([^<]*)</td>", rows["母亲"])
    assert mother[:5] == ["母亲", "母亲", "0", "1", "0"] and mother[5] == "催收-李四"
    colleague = re.findall(r"<td[^>]*>([^<]*)</td>", rows["同事王某"])
    assert colleague[:5] == ["同事王某", "同事", "0", "1", "1"]
    assert category_label("HOME_WORK_VISIT") in rows["同事王某"]


def test_message_page_highlights_every_flag_and_escapes_text(case: MessageCase) -> None:
    html = _page(case, case.sms_id)
    text_flags = [f for f in case.store.message_flags(source_id=case.sms_id) if f.level == "text"]
    marks = re.findall(r'<mark class="flag[^"]*" data-flags="[^"]+" title="[^"]+" style="[^"]+">([^<]+)</mark>', html)
    assert sorted(marks) == sorted(f.match_text for f in text_flags)
    assert "&lt;script&gt;" in html and "<script>" not in html  # the SMS text holds "<script>"
    assert len(re.findall(r'<li id="detail-\d+" data-message-flag-id=', html)) == len(
        case.store.message_flags(source_id=case.sms_id))
    assert "2024-01-15 23:40:00" in html and "收到" in html and "发出" in html
    assert case.store.get_message_source(case.sms_id).sha256 in html
    assert "消息内容取自导出文件，以原件为准" in html


def test_screenshot_page_shows_the_annotated_copy_and_the_originals_hash(case: MessageCase) -> None:
    html = _page(case, case.shot_id)
    source = case.store.get_message_source(case.shot_id)
    assert '<img src="annotated.png"' in html and source.sha256 in html and "截图文字由机器识别" in html
    original_href = re.search(r'原图未改动：<a href="([^"]+)"', html).group(1)
    page_dir = case.case_dir / "messages" / case.shot_id
    assert (page_dir / unquote(original_href)).resolve() == Path(source.source_path).resolve()
    annotated = page_dir / "annotated.png"
    with Image.open(annotated) as copy, Image.open(source.source_path) as image:
        assert copy.size == image.size and copy.convert("RGB").tobytes() != image.convert("RGB").tobytes()
    shot = Path(source.source_path)
    assert (shot.read_bytes(), shot.stat().st_mtime_ns) == case.original  # type: ignore[attr-defined]


def test_rejected_message_flags_leave_the_page_and_the_annotated_copy(tmp_path: Path) -> None:
    built = build_message_case(tmp_path)
    try:
        store = built.store
        write_case_html(built.case_dir, store)
        annotated = built.case_dir / "messages" / built.shot_id / "annotated.png"
        first_copy = annotated.read_bytes()
        boxed = [f for f in store.message_flags(source_id=built.shot_id) if f.boxes]
        assert len(boxed) == 2
        store.set_message_flag_status(boxed[0].id, "rejected")
        write_case_html(built.case_dir, store)
        page = _page(built, built.shot_id)
        assert f'data-message-flag-id="{boxed[0].id}"' not in page and boxed[0].match_text not in re.findall(
            r"<mark[^>]*>([^<]+)</mark>", page)
        assert annotated.read_bytes() != first_copy  # redrawn with one box fewer
        store.set_message_flag_status(boxed[1].id, "rejected")
        write_case_html(built.case_dir, store)
        assert not annotated.exists()
        page = _page(built, built.shot_id)
        assert "没有需要标注的标记" in page and '<img src="annotated.png"' not in page
    finally:
        built.store.close()


def test_add_messages_refreshes_the_case_pages(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from message_fixtures import write_inputs
    from review_fixtures import build_case

    from pipeline.commands.messages_cmd import add_messages_command

    with build_case(tmp_path / "case") as store:
        write_case_html(tmp_path / "case", store)
    assert 'id="messages"' not in (tmp_path / "case" / "index.html").read_text(encoding="utf-8")
    inputs = write_inputs(tmp_path, with_screenshot=False)
    result = CliRunner().invoke(add_messages_command, [str(tmp_path / "case"), str(inputs / "本人" / "sms-20240116.xml"),
                                                       "--received-by", "本人"])
    assert result.exit_code == 0, result.output
    assert "案件网页已更新" in result.output
    index = (tmp_path / "case" / "index.html").read_text(encoding="utf-8")
    assert 'id="messages"' in index and "sms-20240116.xml" in index and '<path class="msg"' in index
    assert list((tmp_path / "case" / "messages").glob("*/messages.html"))
