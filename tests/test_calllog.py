"""Call logs: SMS Backup & Restore calls XML, carriers' itemized records (CSV / TSV / XLSX), calls.csv rows
without a file; merging with recordings; OFF_HOURS / EXCESS_FREQ / rotating numbers over the whole log;
relatives' folders in the contacts-reached table. Every number and name here is invented."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.audio import sha256_file
from pipeline.calllog.android_xml import parse_calls_xml
from pipeline.calllog.carrier import parse_carrier
from pipeline.calllog.importer import detect_log_format, discover_call_logs, import_call_logs
from pipeline.calllog.merge import merge_call_log
from pipeline.calllog.rules import DIGEST_KEY, apply_call_log_rules, case_call_log
from pipeline.calllog.summary import detail_lines, write_case_call_log
from pipeline.calllog.user_csv import parse_user_log
from pipeline.callmeta import CallMeta
from pipeline.callrules import CallRuleOptions
from pipeline.contacts_reached import contacts_reached
from pipeline.errors import InputError
from pipeline.store import CaseStore

COLLECTOR = "13800138000"


def ms(y: int, mo: int, d: int, h: int, mi: int, s: int = 0) -> int:
    """Epoch ms of a Beijing wall time (UTC+8), as Android stores it."""
    return int((datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp() - 8 * 3600) * 1000)


def calls_xml(calls: list[str], count: int | None = None) -> str:
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
            "<!--File Created By SMS Backup & Restore v10.20.002 on 16/01/2024 08:10:02-->\n"
            f'<calls count="{len(calls) if count is None else count}" backup_set="0b0c" '
            f'backup_date="{ms(2024, 1, 16, 8, 10)}" type="full">\n' + "\n".join(calls) + "\n</calls>\n")


def call(number: str, when: int, kind: int, duration: int = 0, name: str = "(Unknown)", presentation: int = 1) -> str:
    return (f'  <call number="{number}" duration="{duration}" date="{when}" type="{kind}" presentation="{presentation}" '
            f'subscription_id="89860" post_dial_digits="" subscription_component_name="com.android.phone/'
            f'com.android.services.telephony.TelephonyConnectionService" readable_date="Jan 15, 2024 22:51:01" '
            f'contact_name="{name}" />')


# eight unanswered attempts from one number in one evening, nothing recorded
MISSED_EVENING = [call("+86 138 0013 8000", ms(2024, 1, 15, 21, 0) + i * 600_000, 3 if i % 3 else 5)
                  for i in range(8)]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


# ------------------------------------------------------------------ calls XML

def test_calls_xml_types_names_hidden_numbers_and_phone_time(tmp_path: Path) -> None:
    path = write(tmp_path / "calls-20240116081002.xml", calls_xml([
        call("+8613800138000", ms(2024, 1, 15, 22, 51, 1), 3),
        call("13800138000", ms(2024, 1, 15, 23, 2), 1, duration=83, name="催收 王经理"),
        call("10086", ms(2024, 1, 15, 9, 0), 2, duration=40),
        call("", ms(2024, 1, 15, 23, 30), 5, presentation=2),
        call("17100001111", ms(2024, 1, 15, 23, 31), 6),
        call("17100001112", ms(2024, 1, 15, 23, 32), 4),
    ]))
    parsed = parse_calls_xml(path)
    assert parsed.problems == []
    kinds = [e.type for e in parsed.entries]
    assert kinds == ["missed", "incoming", "outgoing", "rejected", "blocked", "voicemail"]
    first = parsed.entries[0]
    assert (first.number, first.contact_name, first.time_source, first.time_precision) == (COLLECTOR, None, "phone", "ms")
    assert first.start == datetime(2024, 1, 15, 14, 51, 1, tzinfo=UTC)  # 22:51:01 in Beijing
    assert parsed.entries[1].contact_name == "催收 王经理" and parsed.entries[1].connected
    assert parsed.entries[3].number is None and "号码被隐藏" in parsed.entries[3].notes
    assert parsed.entries[4].connected is False and parsed.entries[2].direction == "outgoing"


def test_calls_xml_bad_and_cut_entries_are_one_line_each(tmp_path: Path) -> None:
    good = call(COLLECTOR, ms(2024, 1, 15, 22, 0), 3)
    text = calls_xml([good, call(COLLECTOR, ms(2024, 1, 15, 22, 5), 9), '  <call number="1" date="abc" type="1" />',
                      good.replace("22, 0", "x")], count=6)
    text = text.replace("\n</calls>\n", '\n  <call number="13800138000" date="17053')  # the backup was cut
    parsed = parse_calls_xml(write(tmp_path / "calls.xml", text))
    assert len(parsed.entries) == 2
    reasons = [str(p) for p in parsed.problems]
    assert any("第 5 行" in r and "type" in r for r in reasons)
    assert any("第 6 行" in r and "时间" in r for r in reasons)
    assert any("不完整" in r for r in reasons)
    assert any("声明 6 条" in r for r in reasons)


# ------------------------------------------------------------------ carrier records

CMCC_CSV = """中国移动通信 客户详单
查询月份：2024年01月,,,,,,,
起始时间,通信地点,通信方式,对方号码,通信时长,通信类型,套餐优惠,实收通信费(元)
01-15 21:03:10,广东深圳,被叫,13800138000,1分23秒,本地,,0.00
01-15 21:40:00,广东深圳,被叫,13800138000,45秒,本地,,0.00
01-15 22:31:05,广东深圳,被叫,13800138000,2分,本地,,0.00
01-15 23:10:00,广东深圳,被叫,13800138000,10秒,本地,,0.00
01-16 09:00:00,广东深圳,主叫,10086,30秒,本地,,0.00
01-16 09:10:00,广东深圳,呼叫等待,13800138000,30秒,本地,,0.00
01-16 09:20:00,广东深圳,被叫,未知号码,30秒,本地,,0.00
合计,,,,,,,0.00
"""


def test_carrier_csv_china_mobile_gbk_without_year(tmp_path: Path) -> None:
    parsed = parse_carrier(write(tmp_path / "通话详单.csv", CMCC_CSV, encoding="gbk"))
    assert [e.type for e in parsed.entries] == ["incoming"] * 4 + ["outgoing"]
    first = parsed.entries[0]
    assert (first.start, first.duration, first.location, first.time_source) == (
        datetime(2024, 1, 15, 21, 3, 10), 83.0, "广东深圳", "carrier")
    assert "年份取自详单标题或文件名（2024 年）" in first.notes
    lines = {p.line: str(p) for p in parsed.problems}
    assert "通信方式无法识别" in lines[9] and "对方号码无法识别" in lines[10] and "未计入" in lines[11]
    assert parsed.meta["header_row"] == 3


def test_carrier_xlsx_unicom_with_excel_cells(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["中国联通 通话详单 2024-01"])
    sheet.append(["通话起始时间", "通话时长", "呼叫类型", "对方号码", "本机通话地", "对方归属地", "通话类型", "通话费"])
    sheet.append([datetime(2024, 1, 15, 22, 40, 5), "00:01:23", "被叫", 13800138000, "北京", "广东深圳", "本地", 0])
    sheet.append(["2024/1/15 23:59:00", 65, "主叫", "+86 139 0013 9000", "北京", "", "本地", 0])
    sheet.append(["昨天", "1分", "被叫", "13800138000", "北京", "", "本地", 0])
    path = tmp_path / "unicom.xlsx"
    book.save(path)
    assert detect_log_format(path) == "carrier"
    parsed = parse_carrier(path)
    assert [(e.start, e.duration, e.type, e.number) for e in parsed.entries] == [
        (datetime(2024, 1, 15, 22, 40, 5), 83.0, "incoming", COLLECTOR),
        (datetime(2024, 1, 15, 23, 59), 65.0, "outgoing", "13900139000")]
    [problem] = parsed.problems
    assert problem.line == 5 and "起始时间无法识别" in str(problem)


def test_carrier_tsv_telecom_and_refusals(tmp_path: Path) -> None:
    tsv = "起始时间\t通话地点\t呼叫类型\t对方号码\t通话时长\t通话类型\t费用\n2024-01-15 22:00:00\t上海\t被叫\t13800138000\t12\t本地\t0\n"
    assert [e.duration for e in parse_carrier(write(tmp_path / "dianxin.txt", tsv)).entries] == [12.0]
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InputError, match="另存为"):
        parse_carrier(tmp_path / "old.xls")
    with pytest.raises(InputError, match="找不到通话详单的表头"):
        parse_carrier(write(tmp_path / "x.csv", "a,b\n1,2\n"))


# ------------------------------------------------------------------ calls.csv without files

def test_user_rows_without_file_and_their_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "calls.csv", "file,number,start,type,duration,received_by,note\n"
                 "rec.m4a,13800138000,2024-01-15 22:00,,,,\n"
                 ",13800138000,2024-01-15 23:05,未接,,母亲,打了好多次\n"
                 ",+86 139 0013 9000,2024/1/16 07:40,已接,3分20秒,,\n"
                 ",13800138000,昨天晚上,未接,,,\n"
                 ",,2024-01-15 23:06,未接,,,\n"
                 ",13800138000,2024-01-15 23:07,,0,,\n")
    parsed = parse_user_log(path)
    assert [(e.type, e.number, e.received_by) for e in parsed.entries] == [
        ("missed", COLLECTOR, "母亲"), ("incoming", "13900139000", None), ("missed", COLLECTOR, None)]
    assert parsed.entries[0].meta["note"] == "打了好多次" and parsed.entries[1].duration == 200
    problems = {p.line: str(p) for p in parsed.problems}
    assert "开始时间无法识别" in problems[5] and "'昨天晚上'" in problems[5]
    assert "缺少 对方号码" in problems[6]


# ------------------------------------------------------------------ merge

def _row(id_: str, source: str, number: str, start: datetime, kind: str, precision: str = "ms",
         time_source: str = "phone", duration: float | None = None, count: int = 1) -> SimpleNamespace:
    direction = "outgoing" if kind == "outgoing" else (None if kind == "unknown" else "incoming")
    return SimpleNamespace(id=id_, source_id=source, number=number, contact_name=None, start=start,
                           start_time=start.isoformat(), type=kind, direction=direction, duration=duration,
                           time_precision=precision, time_source=time_source, count=count, received_by=None)


def test_merge_log_with_recording_and_other_logs() -> None:
    recording = SimpleNamespace(id="rec1", number=COLLECTOR, contact_name=None, start=datetime(2024, 1, 15, 23, 2, 30),
                                start_source="mtime", direction="incoming", duration=80.0, received_by="本人")
    phone = _row("x-1", "x", COLLECTOR, datetime(2024, 1, 15, 23, 2, 0), "incoming", duration=83.0)
    carrier = _row("c-1", "c", COLLECTOR, datetime(2024, 1, 15, 23, 2, 3), "incoming", "s", "carrier", 83.0)
    missed = [_row(f"x-{i}", "x", COLLECTOR, datetime(2024, 1, 15, 22, i), "missed", duration=0.0) for i in (2, 3)]
    shot = _row("s-1", "s", COLLECTOR, datetime(2024, 1, 15, 22, 3), "missed", "minute", "screenshot", 0.0, count=2)
    calls, links = merge_call_log([recording], [phone, carrier, *missed, shot])
    assert len(calls) == 3  # one recorded call, two missed calls: nothing counted twice
    [recorded] = [c for c in calls if c.call_id]
    assert recorded.id == "rec1" and recorded.start == datetime(2024, 1, 15, 23, 2, 0)
    assert recorded.start_source == "phone" and sorted(recorded.entry_ids) == ["c-1", "x-1"]
    assert links["x-1"] == ("rec1", None) and links["c-1"] == ("rec1", "x-1")
    assert links["s-1"] == (None, "x-3")  # the badge row (2) stands for the two missed calls
    assert sum(c.count for c in calls if not c.call_id) == 2


def test_entries_of_one_file_never_merge_and_unanswered_never_join_a_recording() -> None:
    recording = SimpleNamespace(id="rec1", number=COLLECTOR, contact_name=None, start=datetime(2024, 1, 15, 22, 0, 30),
                                start_source="filename", direction="incoming", duration=30.0, received_by=None)
    a = _row("x-1", "x", COLLECTOR, datetime(2024, 1, 15, 22, 0, 0), "missed", duration=0.0)
    b = _row("x-2", "x", COLLECTOR, datetime(2024, 1, 15, 22, 0, 40), "missed", duration=0.0)
    calls, links = merge_call_log([recording], [a, b])
    assert len(calls) == 3 and links == {"x-1": (None, None), "x-2": (None, None)}


# ------------------------------------------------------------------ the case: import, rules, contacts

def _done_recording(store: CaseStore, path: Path, number: str, start: datetime, received_by: str | None = None) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"fake recording " + str(path).encode())
    meta = CallMeta(number=number, start=start, direction="incoming", duration=80.0, received_by=received_by)
    meta.sources = {"start": "filename", "number": "filename", "direction": "filename"}
    row = store.upsert_call_intake(path, sha256_file(path), meta=meta, size=path.stat().st_size)
    with store.transaction() as conn:  # as if transcribed: the call-level rules look at done calls
        conn.execute("UPDATE calls SET status = 'done', duration = 80 WHERE id = ?", (row.id,))
    return row.id


def test_unanswered_attempts_rule_fires_from_a_log_without_recordings(tmp_path: Path) -> None:
    root = tmp_path / "INPUT"
    write(root / "本人" / "calls-20240116081002.xml", calls_xml(MISSED_EVENING))
    with CaseStore.open(tmp_path / "case") as store:
        report = import_call_logs(store, discover_call_logs(root), root)
        assert [o.status for o in report.outcomes] == ["done"] and report.to_dict()["calls"] == 8
        assert apply_call_log_rules(store, CallRuleOptions()) >= 1
        flags = store.calllog_flags()
        [unanswered] = [f for f in flags if f.rule == "excess_freq.unanswered"]
        assert unanswered.count == 8 and unanswered.number == COLLECTOR and unanswered.day == "2024-01-15"
        assert "8 通未接来电" in unanswered.description and len(unanswered.entry_ids) == 8
        assert unanswered.legal_basis == ["CBA-2026"]
        off = [f for f in flags if f.category == "OFF_HOURS"]  # 22:00, 22:10 … 22:10 Beijing time
        assert {f.day for f in off} == {"2024-01-15"} and len(off) == 2
        digest = json.loads(store.case_info()[DIGEST_KEY])
        assert (digest["calls"], digest["unanswered"], digest["recorded"], digest["off_hours"]) == (8, 8, 0, 2)
        assert digest["numbers"][0]["number"] == COLLECTOR and digest["files"][0]["entries"] == 8
        # a second import reads nothing again
        again = import_call_logs(store, discover_call_logs(root), root)
        assert [o.status for o in again.outcomes] == ["reused"]


def test_connected_limit_counts_log_and_recorded_calls_once(tmp_path: Path) -> None:
    root = tmp_path / "INPUT"
    write(root / "通话详单_202401.csv", CMCC_CSV)
    with CaseStore.open(tmp_path / "case") as store:
        rec = _done_recording(store, root / "本人" / "rec.m4a", COLLECTOR, datetime(2024, 1, 15, 22, 31, 20), "本人")
        import_call_logs(store, discover_call_logs(root), root)
        apply_call_log_rules(store, CallRuleOptions())
        [connected] = [f for f in store.calllog_flags() if f.rule == "excess_freq.connected"]
        assert connected.count == 4 and connected.call_ids == [rec]  # 4 connected calls, one of them recorded
        assert "其中 3 通没有录音" in connected.description
        # the recording carries the finding as a call-level flag (review app, index, pack)
        assert any(f.rule == "excess_freq.connected" for f in store.call_flags(rec))
        entries = store.calllog_entries()
        assert [e.call_id for e in entries if e.start_time.startswith("2024-01-15T22:31")] == [rec]
        calls, _ = case_call_log(store)
        assert sum(1 for c in calls if c.direction == "incoming") == 4


def test_rotating_numbers_summarised_as_one_finding(tmp_path: Path) -> None:
    numbers = [f"1710000{n:04d}" for n in (1, 2, 3, 4, 5)]
    xml = calls_xml([call(n, ms(2024, 1, 16, 10, i), 3) for i, n in enumerate(numbers)])
    root = tmp_path / "INPUT"
    write(root / "calls.xml", xml)
    with CaseStore.open(tmp_path / "case") as store:
        import_call_logs(store, discover_call_logs(root), root)
        apply_call_log_rules(store)
        [rotating] = [f for f in store.calllog_flags() if f.rule == "excess_freq.rotating_prefix"]
        assert rotating.count == 5 and rotating.number == "、".join(numbers)
        assert "5 个不同号码（号段 1710000****）轮番来电 5 次" in rotating.description
        assert not [f for f in store.calllog_flags() if f.rule == "excess_freq.unanswered"]  # each number alone is fine


def test_relatives_folder_counts_in_contacts_reached_and_outputs(tmp_path: Path) -> None:
    root = tmp_path / "INPUT"
    write(root / "母亲" / "通话记录" / "calls-20240116.xml", calls_xml(MISSED_EVENING[:3]))
    write(root / "calls.csv", "file,number,start,type,received_by\n,13800138000,2024-01-16 12:00,未接,同事王某\n"
                              ",13800138000,not a time,未接,同事王某\n")
    with CaseStore.open(tmp_path / "case") as store:
        report = import_call_logs(store, discover_call_logs(root), root)
        assert sorted(o.format for o in report.outcomes) == ["calls_xml", "user_csv"]
        assert any("第 3 行" in line and "开始时间无法识别" in line for line in detail_lines(report))
        apply_call_log_rules(store)
        rows = {r.person: r for r in contacts_reached(store, root)}
        assert rows["母亲"].calls == 3 and rows["母亲"].relation == "母亲" and rows["母亲"].numbers == [COLLECTOR]
        assert rows["同事王某"].calls == 1 and rows["同事王某"].relation == "同事"
        written = write_case_call_log(store, tmp_path / "case")
        assert written["digest"]["calls"] == 4
        csv_text = (tmp_path / "case" / "calllog" / "calllog.csv").read_text(encoding="utf-8-sig")
        assert csv_text.count(COLLECTOR) == 4 and "未接来电" in csv_text and "母亲" in csv_text


def test_migrated_v3_case_opens_with_call_log_tables(tmp_path: Path) -> None:
    import sqlite3

    from pipeline.store import schema

    (tmp_path / "old").mkdir()
    conn = sqlite3.connect(tmp_path / "old" / "case.sqlite", isolation_level=None)
    schema.migrate(conn, target=3)
    conn.close()
    with CaseStore.open(tmp_path / "old") as store:
        assert store.case_info()["schema_version"] == str(schema.SCHEMA_VERSION)
        assert store.calllog_entries() == [] and store.calllog_flags() == []
