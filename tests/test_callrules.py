"""OFF_HOURS and EXCESS_FREQ over a synthetic call log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.callrules import (
    CallRecord,
    CallRuleOptions,
    call_log_flags,
    excess_frequency_flags,
    off_hours_flags,
)
from pipeline.calls import call_metadata

COLLECTOR = "13800138000"
OPTIONS = CallRuleOptions()


def call(cid: str, start: datetime | None, *, number: str | None = COLLECTOR, direction: str | None = "incoming",
         duration: float = 60.0, source: str | None = "filename") -> CallRecord:
    return CallRecord(cid, number, start, source, direction, duration)


@pytest.mark.parametrize("hh,mm,flagged", [
    (21, 59, False), (22, 0, True), (23, 59, True), (0, 0, True), (3, 30, True), (7, 59, True), (8, 0, False),
    (12, 0, False),
])
def test_off_hours_boundaries(hh, mm, flagged):
    flags = off_hours_flags([call("c1", datetime(2024, 1, 15, hh, mm))], OPTIONS)
    assert bool(flags) is flagged
    if flagged:
        flag = flags[0]
        assert (flag.category, flag.rule, flag.call_ids, flag.severity) == ("OFF_HOURS", "off_hours.window", ["c1"], 2)
        assert flag.legal_basis == ["GBT-45251", "CBA-2026"]
        assert f"{hh:02d}:{mm:02d}" in flag.description_zh and "22:00–08:00" in flag.description_zh


def test_off_hours_only_for_collector_calls_with_known_time():
    late = datetime(2024, 1, 15, 23, 0)
    log = [call("out", late, direction="outgoing"), call("unknown_time", None), call("no_source", late, source=None),
           call("conf", late, direction="conference"), call("in", late), call("dir?", late, direction=None)]
    flags = off_hours_flags(log, OPTIONS)
    assert [f.call_ids[0] for f in flags] == ["in", "dir?"]
    unknown_direction = flags[1]
    assert unknown_direction.severity == 1 and "方向未知" in unknown_direction.description_zh
    assert off_hours_flags(log, CallRuleOptions(count_unknown_direction=False))[0].call_ids == ["in"]


def test_configurable_window_without_wrap():
    options = CallRuleOptions(off_hours_start=time(12, 0), off_hours_end=time(14, 0))
    starts = [datetime(2024, 1, 15, h, m) for h, m in ((11, 59), (12, 0), (13, 59), (14, 0), (23, 0))]
    flags = off_hours_flags([call(f"c{i}", s) for i, s in enumerate(starts)], options)
    assert [f.call_ids[0] for f in flags] == ["c1", "c2"]


def test_aware_times_convert_to_local_zone():
    utc_1430 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    assert off_hours_flags([call("c", utc_1430)], OPTIONS)[0].local_times == [datetime(2024, 1, 15, 22, 30)]
    assert not off_hours_flags([call("c", utc_1430)], CallRuleOptions(zone="Europe/London"))
    bcr = datetime(2024, 1, 15, 7, 0, tzinfo=timezone(timedelta(hours=-5)))  # 20:00 in Shanghai
    assert not off_hours_flags([call("c", bcr)], OPTIONS)


def test_mtime_times_count_with_lower_severity():
    flag = off_hours_flags([call("c", datetime(2024, 1, 15, 23, 0), source="mtime")], OPTIONS)[0]
    assert flag.severity == 1 and "文件修改时间" in flag.description_zh


def day_of_calls(n: int, *, day: datetime = datetime(2024, 1, 15, 9, 0), **kw) -> list[CallRecord]:
    return [call(f"c{i}", day + timedelta(hours=i), **kw) for i in range(n)]


def test_three_connected_calls_a_day_are_allowed_four_are_not():
    assert not excess_frequency_flags(day_of_calls(3), OPTIONS)
    flags = excess_frequency_flags(day_of_calls(4), OPTIONS)
    assert len(flags) == 1
    flag = flags[0]
    assert (flag.category, flag.rule, flag.count, flag.number) == ("EXCESS_FREQ", "excess_freq.connected", 4, COLLECTOR)
    assert flag.call_ids == ["c0", "c1", "c2", "c3"] and flag.legal_basis == ["GBT-45251"]
    assert flag.day.isoformat() == "2024-01-15" and flag.severity == 2
    assert "4 通接通来电" in flag.description_zh and "09:00、10:00、11:00、12:00" in flag.description_zh
    assert excess_frequency_flags(day_of_calls(6), OPTIONS)[0].severity == 3


def test_frequency_counts_per_number_and_skips_user_calls_unknown_times_and_missed():
    log = day_of_calls(3) + [
        call("other", datetime(2024, 1, 15, 15, 0), number="13900139000"),
        call("mine", datetime(2024, 1, 15, 16, 0), direction="outgoing"),
        call("when?", None), call("nosrc", datetime(2024, 1, 15, 17, 0), source=None),
        call("missed", datetime(2024, 1, 15, 18, 0), duration=0.0),
        call("nonum", datetime(2024, 1, 15, 19, 0), number=None),
    ]
    assert not excess_frequency_flags(log, OPTIONS)
    log.append(call("fourth", datetime(2024, 1, 15, 20, 0)))
    assert excess_frequency_flags(log, OPTIONS)[0].call_ids == ["c0", "c1", "c2", "fourth"]


def test_days_split_at_local_midnight():
    late = [call(f"a{i}", datetime(2024, 1, 15, 23, 57 + i)) for i in range(2)]
    early = [call(f"b{i}", datetime(2024, 1, 16, 0, i)) for i in range(2)]
    assert not excess_frequency_flags(late + early, OPTIONS)
    # 20:00 UTC .. 02:00 UTC: two UTC days, one Shanghai day (04:00 .. 10:00 on the 16th)
    aware = [call(f"u{i}", datetime(2024, 1, 15, 20, 0, tzinfo=UTC) + timedelta(hours=i * 2)) for i in range(4)]
    assert len({c.start.date() for c in aware}) == 2
    assert [f.day.isoformat() for f in excess_frequency_flags(aware, OPTIONS)] == ["2024-01-16"]
    # 14:00 .. 17:00 UTC: one UTC day, two Shanghai days (22:00 .. 01:00)
    straddling = [call(f"s{i}", datetime(2024, 1, 15, 14, 0, tzinfo=UTC) + timedelta(hours=i)) for i in range(4)]
    assert len({c.start.date() for c in straddling}) == 1 and not excess_frequency_flags(straddling, OPTIONS)


def test_unanswered_attempts_over_six_a_day():
    assert not excess_frequency_flags(day_of_calls(6, duration=0.0), OPTIONS)
    flags = excess_frequency_flags(day_of_calls(7, duration=0.0), OPTIONS)
    assert [(f.rule, f.count, f.legal_basis) for f in flags] == [("excess_freq.unanswered", 7, ["CBA-2026"])]


def test_configurable_limit_and_explicit_connected():
    assert excess_frequency_flags(day_of_calls(2), CallRuleOptions(max_connected_per_day=1))
    rings = [CallRecord(f"r{i}", COLLECTOR, datetime(2024, 1, 15, 9 + i), "user", "incoming", 30.0, connected=False)
             for i in range(7)]
    assert excess_frequency_flags(rings, OPTIONS)[0].rule == "excess_freq.unanswered"


def test_call_log_flags_from_call_metadata():
    names = [f"{COLLECTOR}_2024011{d}{h:02d}0000.amr" for d, h in ((5, 9), (5, 11), (5, 13), (5, 23), (6, 9))]
    log = [CallRecord.from_meta(f"id{i}", call_metadata(Path(n), duration=30.0)) for i, n in enumerate(names)]
    flags = call_log_flags(log)
    assert [(f.category, f.call_ids) for f in flags] == [
        ("OFF_HOURS", ["id3"]), ("EXCESS_FREQ", ["id0", "id1", "id2", "id3"])]
    assert all(f.severity == 1 for f in flags)  # Huawei names carry no direction
    assert flags[1].to_dict()["day"] == "2024-01-15" and flags[0].to_dict()["local_times"] == ["2024-01-15T23:00:00"]
