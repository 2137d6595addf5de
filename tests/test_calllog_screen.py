"""Screenshots of call-log screens, drawn with a CJK font and read with the project's offline OCR:
numbers and names, count badges, 未接/呼入/呼出 marks or red names, relative times resolved against
the capture time in the file name; a chat screenshot is left to the message importer."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.calllog.importer import CachingReader, import_call_logs
from pipeline.calllog.rules import apply_call_log_rules
from pipeline.calllog.screen_times import resolve
from pipeline.store import CaseStore
from tests.calllog_fixtures import CallRow, render_call_log
from tests.screenshot_fixtures import APT_LINE, Bubble, find_cjk_font, render_chat

FONT = find_cjk_font()
pytestmark = pytest.mark.skipif(FONT is None, reason=f"no CJK font to draw screenshots ({APT_LINE})")
CAPTURED = datetime(2024, 1, 17, 22, 35, 10)  # a Wednesday
ROWS = [CallRow("138 0013 8001", "missed", "22:31", count=3), CallRow("催收王经理", "incoming", "21:05", duration="1分23秒"),
        CallRow("+86 139 0013 9002", "rejected", "昨天"), CallRow("138 0013 8003", "outgoing", "星期一", duration="32秒"),
        CallRow("0755-8888 1234", "missed", "12月1日"), CallRow("138 0013 8004", "blocked", "2023/11/28")]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during OCR")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture(scope="module")
def reader() -> CachingReader:
    return CachingReader()


@pytest.mark.parametrize("style", ["miui", "ios"])
def test_call_log_screenshot_rows(tmp_path: Path, reader: CachingReader, style: str) -> None:
    image, truths = render_call_log(ROWS, FONT, style=style)
    root = tmp_path / "INPUT" / "母亲"
    root.mkdir(parents=True)
    path = root / f"Screenshot_{CAPTURED:%Y-%m-%d-%H-%M-%S}-123_com.android.contacts.png"
    image.save(path)
    with CaseStore.open(tmp_path / "case") as store:
        report = import_call_logs(store, [path], tmp_path / "INPUT", reader=reader)
        assert [o.status for o in report.outcomes] == ["done"] and report.consumed == {path}
        entries = store.calllog_entries()
        by_party = {(e.number or e.contact_name): e for e in entries}
        assert len(entries) == len(ROWS)
        for truth in truths:
            row = truth.row
            party = "催收王经理" if not row.who[0].isdigit() and not row.who.startswith("+") else None
            entry = by_party[party or {"138 0013 8001": "13800138001", "+86 139 0013 9002": "13900139002",
                                       "138 0013 8003": "13800138003", "0755-8888 1234": "075588881234",
                                       "138 0013 8004": "13800138004"}[row.who]]
            assert entry.type == truth.expected_type, row
            expected = resolve(row.time_label, CAPTURED)
            assert (entry.start, entry.time_precision) == (expected.when, expected.precision), row
            assert entry.received_by == "母亲" and entry.ocr and entry.ocr[0]["box"]
        first = by_party["13800138001"]
        assert first.count == 3 and first.start_time == "2024-01-17T22:31:00"
        assert any("截图时间（文件名 2024-01-17 22:35）" in n for n in first.notes)
        if style == "miui":
            assert by_party["催收王经理"].duration == 83.0
        else:
            assert "按红色字体判断为未接来电" in first.notes
        apply_call_log_rules(store)
        assert any(f.category == "OFF_HOURS" and f.number == "13800138001" for f in store.calllog_flags())


def test_chat_screenshot_is_not_a_call_log(tmp_path: Path, reader: CachingReader) -> None:
    shot = render_chat([Bubble("left", "你再不还钱我们就爆你通讯录", "昨天 22:31"), Bubble("right", "我下周还"),
                        Bubble("left", "今天必须还，不然通知你家人", "22:40")], FONT)
    path = tmp_path / "IMG_0001.PNG"
    shot.image.save(path)
    with CaseStore.open(tmp_path / "case") as store:
        report = import_call_logs(store, [path], tmp_path, reader=reader)
        assert [o.status for o in report.outcomes] == ["not_call_log"] and report.consumed == set()
        assert store.calllog_sources()[0].status == "other"
        again = import_call_logs(store, [path], tmp_path, reader=reader)  # remembered: not read again
        assert [o.status for o in again.outcomes] == ["not_call_log"]
