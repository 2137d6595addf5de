"""Call metadata from recorder file names (every example of RECORDERS.md §1 and the §4 pitfalls),
container tags, mtime, BCR sidecars and the user's calls.csv."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.calls import (
    NO_YEAR,
    CallMeta,
    apply_overrides,
    call_metadata,
    canonical_number,
    load_overrides,
    parse_filename,
)
from pipeline.errors import InputError

CST = timezone(timedelta(hours=8))
T = datetime  # naive = device-local wall time

# (path, recorder, number, contact_name, start, direction, precision)
EXAMPLES = [
    # 1 MIUI old
    ("通话录音@张三(13800138000)_20190419123402.mp3", "miui_old", "13800138000", "张三", T(2019, 4, 19, 12, 34, 2), None, "s"),
    ("通话录音@138 0013 8000(13800138000)_20180814153840.mp3", "miui_old", "13800138000", None, T(2018, 8, 14, 15, 38, 40), None, "s"),
    ("通话录音@10086(10086)_20191104110052.mp3", "miui_old", "10086", None, T(2019, 11, 4, 11, 0, 52), None, "s"),
    # 2 MIUI 13/14
    ("13800138000(13800138000)_20230506192735.mp3", "miui_new", "13800138000", None, T(2023, 5, 6, 19, 27, 35), None, "s"),
    ("张三(13800138000)_20240115143022.mp3", "miui_new", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("李四(02162345678)_20240115143022.mp3", "miui_new", "02162345678", "李四", T(2024, 1, 15, 14, 30, 22), None, "s"),
    # 3 Huawei EMUI 5-8
    ("张三@13800138000_20170512093015.amr", "huawei", "13800138000", "张三", T(2017, 5, 12, 9, 30, 15), None, "s"),
    ("13800138000_20180301120000.amr", "huawei", "13800138000", None, T(2018, 3, 1, 12, 0, 0), None, "s"),
    ("138 0013 8000_20181111080910.amr", "huawei", "13800138000", None, T(2018, 11, 11, 8, 9, 10), None, "s"),
    # 4 Huawei EMUI 9+/HarmonyOS/Honor
    ("张三@13800138000_20240115143022.m4a", "huawei", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("138 0013 8000_20250625142304.amr", "huawei", "13800138000", None, T(2025, 6, 25, 14, 23, 4), None, "s"),
    ("13800138000_20240115143022.m4a", "huawei", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    # 5 ColorOS / realme / OxygenOS 12+
    ("13800138000-2203021149.mp3", "coloros", "13800138000", None, T(2022, 3, 2, 11, 49), None, "minute"),
    ("张三-2401151430.mp3", "coloros", None, "张三", T(2024, 1, 15, 14, 30), None, "minute"),
    ("+8613800138000-2401151430.m4a", "coloros", "13800138000", None, T(2024, 1, 15, 14, 30), None, "minute"),
    # 7 vivo
    ("13800138000 2019-05-16 10-06-40.amr", "vivo", "13800138000", None, T(2019, 5, 16, 10, 6, 40), None, "s"),
    ("13800138000 2022-07-12 16-40-50.m4a", "vivo", "13800138000", None, T(2022, 7, 12, 16, 40, 50), None, "s"),
    ("张三 2024-01-15 14-30-22.m4a", "vivo", None, "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    # 8 Samsung
    ("Call recording 13800138000_240115_143022.m4a", "samsung", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("Call recording +8613800138000_240115_143022.m4a", "samsung", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("通话录音 张三_240115_143022.m4a", "samsung", None, "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    # 11 LineageOS
    ("+8613800138000_240115_143022123.amr", "lineage", "13800138000", None, T(2024, 1, 15, 14, 30, 22, 123000), None, "ms"),
    ("13800138000_240115_143022123.m4a", "lineage", "13800138000", None, T(2024, 1, 15, 14, 30, 22, 123000), None, "ms"),
    ("unknown_240115_143022123.amr", "lineage", None, None, T(2024, 1, 15, 14, 30, 22, 123000), None, "ms"),
    # 12 GrapheneOS / crDroid
    ("CallRecord_20240115-143022_+8613800138000.m4a", "graphene", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("CallRecord_20240115-143022_13800138000.m4a", "graphene", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("CallRecord_20231231-235959_10086.m4a", "graphene", "10086", None, T(2023, 12, 31, 23, 59, 59), None, "s"),
    # 15 BCR
    ("20240115_143022.123+0800_in_13800138000_张三.oga", "bcr", "13800138000", "张三",
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "incoming", "ms"),
    ("20240115_143022.123+0800_out_sim2_+8613800138000.oga", "bcr", "13800138000", None,
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "outgoing", "ms"),
    ("20240115_143022.5+0800_in.m4a", "bcr", None, None, T(2024, 1, 15, 14, 30, 22, 500000, tzinfo=CST), "incoming", "ms"),
    # 16 ShizuCallRecorder
    ("20240115_143022.123+0800_in_+8613800138000.ogg", "bcr", "13800138000", None,
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "incoming", "ms"),
    ("20240115_143022.123+0800_out_13800138000.ogg", "bcr", "13800138000", None,
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "outgoing", "ms"),
    ("20240115_143022.123+0800_in_.ogg", "bcr", None, None, T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "incoming", "ms"),
    # 17 Cube ACR
    ("2024-01-15 14-30-22 (phone) 张三 (+86 138 0013 8000) ↗.m4a", "cube", "13800138000", "张三",
     T(2024, 1, 15, 14, 30, 22), "outgoing", "s"),
    ("2024-01-15 14-30-22 (phone) 张三 (13800138000) ↙.m4a", "cube", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), "incoming", "s"),
    ("phone_20240115-143022_张三.amr", "cube", None, "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    # 18 ACR Phone (epoch: tz-aware UTC)
    ("+8613800138000-0-1705300222000.m4a", "acrphone", "13800138000", None, T(2024, 1, 15, 6, 30, 22, tzinfo=UTC), "incoming", "ms"),
    ("+8613800138000-1-1705300222000.m4a", "acrphone", "13800138000", None, T(2024, 1, 15, 6, 30, 22, tzinfo=UTC), "outgoing", "ms"),
    ("13800138000-0-1705300222.m4a", "acrphone", "13800138000", None, T(2024, 1, 15, 6, 30, 22, tzinfo=UTC), "incoming", "s"),
    # 19 axet Call Recorder
    ("2024-01-15 14.30.22.ogg", "axet", None, None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("2024-01-15 14.30.22 ↓ 张三.ogg", "axet", None, "张三", T(2024, 1, 15, 14, 30, 22), "incoming", "s"),
    ("1705300222 13800138000.ogg", "axet", "13800138000", None, T(2024, 1, 15, 6, 30, 22, tzinfo=UTC), None, "s"),
]

# RECORDERS.md §4: pitfalls (same columns)
PITFALLS = [
    # 1/4 labels instead of numbers, numbers in the name slot
    ("Вызов@112(Экстренный номер)_20200101120000.mp3", "miui_old", "112", "Экстренный номер", T(2020, 1, 1, 12), None, "s"),
    ("Call recording [후후위키] 강남구청_200605_114902.m4a", "samsung", None, "[후후위키] 강남구청", T(2020, 6, 5, 11, 49, 2), None, "s"),
    ("Call recording (주)리치빔_200605_114902.m4a", "samsung", None, "(주)리치빔", T(2020, 6, 5, 11, 49, 2), None, "s"),
    # 2 formatted numbers, other locales
    ("통화 녹음 010-4522-9729_200605_114902.m4a", "samsung", "01045229729", None, T(2020, 6, 5, 11, 49, 2), None, "s"),
    ("Call recording +15551234567_200605_114902.m4a", "samsung", "+15551234567", None, T(2020, 6, 5, 11, 49, 2), None, "s"),
    ("2024-01-15 14-30-22 (phone) Bob (+61 403 692 612) ↙.m4a", "cube", "+61403692612", "Bob", T(2024, 1, 15, 14, 30, 22), "incoming", "s"),
    # 3 +86 written by MIUI as 0086; Samsung's _6900
    ("通话录音@张三(008613800138000)_20190419123402.mp3", "miui_old", "13800138000", "张三", T(2019, 4, 19, 12, 34, 2), None, "s"),
    ("Call recording _6900_190317_190817.m4a", "samsung", "*6900", None, T(2019, 3, 17, 19, 8, 17), None, "s"),
    ("通话录音@10086p1(10086p1)_20191104110052.mp3", "miui_old", "10086", None, T(2019, 11, 4, 11, 0, 52), None, "s"),
    # 4 private / unknown callers
    ("通话录音@13800138000_20190419123402.mp3", "miui_old", "13800138000", None, T(2019, 4, 19, 12, 34, 2), None, "s"),
    # 5 separators and full-width brackets inside names
    ("通话录音@聚思鸿interview_schedule(041139050508)_20180129140127.mp3", "miui_old", "041139050508",
     "聚思鸿interview_schedule", T(2018, 1, 29, 14, 1, 27), None, "s"),
    ("通话录音@张三（公司）(13800138000)_20190419123402.mp3", "miui_old", "13800138000", "张三（公司）", T(2019, 4, 19, 12, 34, 2), None, "s"),
    ("张三（13800138000）_20240115143022.mp3", "miui_new", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("王-经理-2401151430.mp3", "coloros", None, "王-经理", T(2024, 1, 15, 14, 30), None, "minute"),
    ("20240115_143022.123+0800_in_13800138000_张_三.oga", "bcr", "13800138000", "张_三",
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "incoming", "ms"),
    ("20240115_143022+0800_in_张三.oga", "bcr", None, "张三", T(2024, 1, 15, 14, 30, 22, tzinfo=CST), "incoming", "s"),
    # 6 conference calls
    ("通话录音@张三(13800138000)_李四(13900139000)_20190419123402.mp3", "miui_old", "13800138000", "张三",
     T(2019, 4, 19, 12, 34, 2), "conference", "s"),
    ("20240115_143022.123+0800_conference_13800138000,+8613900139000_张三,李四.oga", "bcr", "13800138000", "张三",
     T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST), "conference", "ms"),
    # 8 copies
    ("13800138000_20180301120000 (1).amr", "huawei", "13800138000", None, T(2018, 3, 1, 12), None, "s"),
    ("Call recording 13800138000_240115_143022（2）.m4a", "samsung", "13800138000", None, T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("13800138000 2019-05-16 10-06-40 - 副本.amr", "vivo", "13800138000", None, T(2019, 5, 16, 10, 6, 40), None, "s"),
    ("通话录音@张三(13800138000)_20190419123402 副本 2.mp3", "miui_old", "13800138000", "张三", T(2019, 4, 19, 12, 34, 2), None, "s"),
    ("张三(13800138000)_20240115143022_1.mp3", "miui_new", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("张三-2401151430-1.mp3", "coloros", None, "张三", T(2024, 1, 15, 14, 30), None, "minute"),
    # 9/10 explicit year + 12-hour Chinese clock
    ("催收2024年3月5日 晚上8点05分.m4a", "zh_memo", None, "催收", T(2024, 3, 5, 20, 5), None, "minute"),
    ("2024年3月5日 凌晨12点30分.m4a", "zh_memo", None, None, T(2024, 3, 5, 0, 30), None, "minute"),
    ("2024年3月5日 中午12点10分.m4a", "zh_memo", None, None, T(2024, 3, 5, 12, 10), None, "minute"),
    ("2024年3月5日 下午12点10分.m4a", "zh_memo", None, None, T(2024, 3, 5, 12, 10), None, "minute"),
    ("2024年3月5日 上午9点.m4a", "zh_memo", None, None, T(2024, 3, 5, 9, 0), None, "minute"),
    # 12 other offsets
    ("20240115_093022-0500_out_+15551234567.m4a", "bcr", "+15551234567", None,
     T(2024, 1, 15, 9, 30, 22, tzinfo=timezone(timedelta(hours=-5))), "outgoing", "s"),
    # 13 folder variants
    ("Sounds/callrecord/张三@13800138000_20240115143022.m4a", "huawei", "13800138000", "张三", T(2024, 1, 15, 14, 30, 22), None, "s"),
    ("ACRCalls/ACRPhone/2024/01/15/+8613800138000/+8613800138000-0-1705300222000.m4a", "acrphone", "13800138000",
     None, T(2024, 1, 15, 6, 30, 22, tzinfo=UTC), "incoming", "ms"),
    ("MIUI/sound_recorder/call_rec/老王@13800138000_20190419123402.mp3", "miui_old", "13800138000", None,
     T(2019, 4, 19, 12, 34, 2), None, "s"),
]


def _check(name, recorder, number, contact, start, direction, precision, meta: CallMeta | None) -> None:
    assert meta is not None, name
    got = (meta.recorder, meta.number, meta.contact_name, meta.start, meta.direction, meta.time_precision)
    assert got == (recorder, number, contact, start, direction, precision), name
    assert meta.start.tzinfo is start.tzinfo or meta.start.utcoffset() == start.utcoffset()
    assert meta.sources["start"] == "filename"
    if number:
        assert meta.sources["number"] == "filename" and meta.number_raw


@pytest.mark.parametrize("row", EXAMPLES, ids=[r[0] for r in EXAMPLES])
def test_every_recorders_md_example(row):
    _check(*row, parse_filename(Path(row[0])))


@pytest.mark.parametrize("row", PITFALLS, ids=[r[0] for r in PITFALLS])
def test_pitfalls(row):
    _check(*row, parse_filename(Path(row[0])))


def test_examples_cover_every_recorder_of_section_1():
    assert {r[1] for r in EXAMPLES} == {"miui_old", "miui_new", "huawei", "coloros", "vivo", "samsung",
                                        "lineage", "graphene", "bcr", "cube", "acrphone", "axet"}


def test_raw_number_kept_for_display():
    meta = parse_filename(Path("138 0013 8000_20181111080910.amr"))
    assert (meta.number_raw, meta.number) == ("138 0013 8000", "13800138000")


@pytest.mark.parametrize("name,hint,start", [
    ("13800138000_通话_05月13日_15点26分.amr", T(2019, 6, 1), T(2019, 5, 13, 15, 26)),
    ("13800138000_通话_12月31日_09点05分.amr", T(2020, 1, 2, 10), T(2019, 12, 31, 9, 5)),  # across New Year
    ("02162345678_通话_01月02日_23点59分.amr", T(2020, 1, 3), T(2020, 1, 2, 23, 59)),
    ("人人彩面试2月18日 下午1点51分.mp3", T(2021, 3, 1), T(2021, 2, 18, 13, 51)),
    ("面试2月29日 上午10点5分.mp3", T(2021, 3, 1), T(2020, 2, 29, 10, 5)),  # no 29 Feb in 2021
])
def test_year_taken_from_mtime_hint(name, hint, start):
    meta = parse_filename(Path("Sound_recorder/Phone_recorder/x") / name, year_hint=hint)
    assert meta.start == start and meta.time_precision == "minute"
    assert any("年份取自文件修改时间" in n for n in meta.notes)


def test_lenovo_and_memo_without_year_keep_what_is_known():
    lenovo = parse_filename(Path("02162345678_通话_01月02日_23点59分.amr"))
    assert (lenovo.recorder, lenovo.number, lenovo.start) == ("lenovo", "02162345678", None)
    memo = parse_filename(Path("人人彩面试2月18日 下午1点51分.mp3"))
    assert (memo.recorder, memo.contact_name, memo.start) == ("zh_memo", "人人彩面试", None)
    assert NO_YEAR in memo.notes


def test_number_taken_from_per_number_folder():
    meta = parse_filename(Path("Sound_recorder/Phone_recorder/13800138000/unknown_240115_143022123.amr"))
    assert meta.number == "13800138000" and "号码取自所在文件夹名" in meta.notes


def test_miui_50_character_cap():
    name = "通话录音@某科技有限公司催收部张经理(13800138000)_20190419123402.mp3"
    assert len(name) == 50
    meta = parse_filename(Path(name))
    assert (meta.number, meta.contact_name) == ("13800138000", "某科技有限公司催收部张经理")
    assert any("截断" in n for n in meta.notes)
    cut = "通话录音@张三(13800138000)_某某某(139001_20190419123402.mp3"  # 2nd party's number cut off
    assert len(cut) == 50
    meta = parse_filename(Path(cut))
    assert meta.direction == "conference"
    assert meta.participants == [("13800138000", "张三"), (None, "某某某")]


def test_huawei_name_at_number_is_not_miui_and_copies_are_noted():
    assert parse_filename(Path("张三@13800138000_20170512093015.amr")).recorder == "huawei"
    meta = parse_filename(Path("13800138000_20180301120000 (1).amr"))
    assert any("复制" in n for n in meta.notes)


def test_conference_participants():
    meta = parse_filename(Path("20240115_143022.123+0800_conference_13800138000,+8613900139000_张三,李四.oga"))
    assert meta.participants == [("13800138000", "张三"), ("13900139000", "李四")]


def test_acr_folder_beats_coloros_and_coloros_folder_beats_acr():
    name = "13800138000-0-1705300222.m4a"
    assert parse_filename(Path(name)).recorder == "acrphone"
    assert parse_filename(Path("Music/Recordings/Call Recordings") / name).recorder == "coloros"


@pytest.mark.parametrize("name", [
    "song.mp3", "会议记录.m4a", "New Recording 12.m4a", "IMG_20240115_143022.m4a", "Recording_20240115-143022.m4a",
    "20240115_143022.m4a", "13800138000.mp3", "audio.amr", "录音.amr", "",
    "19991231_235959+0800_in.oga",  # implausible year
    "20240115_143022.5+7800_in.m4a",  # impossible UTC offset
    "通话录音@张三(13800138000)_20191345123402.mp3",  # month 13
    "张三-9913011230.mp3",  # 2099
    "2024-13-45 10-00-00 (phone) x.m4a",
    "13800138000_20240115.m4a",
    "周报 2024-01-15.docx",
])
def test_unknown_names_parse_to_none(name):
    assert parse_filename(Path(name)) is None


@pytest.mark.parametrize("raw,canonical", [
    ("+8613800138000", "13800138000"), ("008613800138000", "13800138000"), ("8613800138000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"), ("138-0013-8000", "13800138000"), ("13800138000", "13800138000"),
    ("02162345678", "02162345678"), ("+862162345678", "02162345678"), ("03943391669", "03943391669"),
    ("10086", "10086"), ("95555", "95555"), ("0061403692612", "+61403692612"), ("+61 403 692 612", "+61403692612"),
    ("86123456", "86123456"), ("", None), ("unknown", None), ("１３８００１３８０００", "13800138000"),
])
def test_canonical_number(raw, canonical):
    assert canonical_number(raw) == canonical


# ---------------------------------------------------------------- call_metadata

def test_name_wins_and_duration_gives_end():
    meta = call_metadata(Path("张三(13800138000)_20240115143022.mp3"), tags={"creation_time": "2024-01-15T06:40:00Z"},
                         duration=95.0)
    assert meta.start == T(2024, 1, 15, 14, 30, 22) and meta.end == T(2024, 1, 15, 14, 31, 57)
    assert meta.sources["start"] == "filename" and meta.sources["duration"] == "tag"
    as_json = json.loads(json.dumps(meta.to_dict(), ensure_ascii=False))
    assert as_json["start"] == "2024-01-15T14:30:22" and as_json["participants"] == [["13800138000", "张三"]]


def test_creation_time_is_end_of_call_in_utc():
    meta = call_metadata(Path("unnamed.m4a"), tags={"creation_time": "2024-01-15T06:35:22.000000Z"},
                         duration=300.0, mtime=None)
    assert meta.end == T(2024, 1, 15, 6, 35, 22, tzinfo=UTC)
    assert meta.start == T(2024, 1, 15, 6, 30, 22, tzinfo=UTC)
    assert meta.sources["start"] == "tag" and meta.sources["end"] == "tag"
    assert meta.recorder is None and any("文件名" in n for n in meta.notes)


def test_old_android_1970_creation_time_is_corrected():
    meta = call_metadata(Path("x.m4a"), tags={"creation_time": "1958-01-15T06:35:22Z"}, duration=10.0, mtime=None)
    assert meta.end.year == 2024 and any("纪元" in n for n in meta.notes)


def test_mtime_fallback_is_marked(tmp_path):
    audio = tmp_path / "voice.m4a"
    audio.write_bytes(b"\0")
    end = datetime(2024, 1, 15, 23, 10, tzinfo=UTC).timestamp()
    os.utime(audio, (end, end))
    meta = call_metadata(audio, duration=60.0)
    assert meta.sources["start"] == "mtime" and meta.start == T(2024, 1, 15, 23, 9, tzinfo=UTC)
    no_duration = call_metadata(audio)
    assert no_duration.start is None and no_duration.end == T(2024, 1, 15, 23, 10, tzinfo=UTC)


def test_year_from_real_file_mtime(tmp_path):
    folder = tmp_path / "Sound_recorder" / "Phone_recorder" / "13800138000"
    folder.mkdir(parents=True)
    audio = folder / "13800138000_通话_05月13日_15点26分.amr"
    audio.write_bytes(b"#!AMR\n")
    stamp = datetime(2019, 5, 13, 15, 40).timestamp()
    os.utime(audio, (stamp, stamp))
    meta = call_metadata(audio, duration=120.0)
    assert meta.start == T(2019, 5, 13, 15, 26) and meta.sources["start"] == "filename"


def test_bcr_sidecar_is_authoritative(tmp_path):
    audio = tmp_path / "20240115_143022.123+0800_in.oga"
    audio.write_bytes(b"OggS")
    audio.with_suffix(".json").write_text(json.dumps({
        "timestamp_unix_ms": 1705300222123, "timestamp": "2024-01-15T14:30:22.123+08:00", "direction": "out",
        "sim_slot": 1, "call_log_name": "催收公司",
        "calls": [{"phone_number": "+8613800138000", "phone_number_formatted": "138 0013 8000",
                   "caller_name": None, "contact_name": "张三"}],
        "output": {"recording": {"duration_secs_total": 61.5, "sample_rate": 16000}},
    }), encoding="utf-8")
    meta = call_metadata(audio)
    assert (meta.number, meta.contact_name, meta.direction, meta.duration) == ("13800138000", "张三", "outgoing", 61.5)
    assert meta.start == T(2024, 1, 15, 14, 30, 22, 123000, tzinfo=CST)
    assert {meta.sources[k] for k in ("start", "number", "direction", "duration")} == {"sidecar"}


def test_broken_sidecar_is_a_note_not_a_crash(tmp_path):
    audio = tmp_path / "20240115_143022.123+0800_in_13800138000.oga"
    audio.write_bytes(b"OggS")
    audio.with_suffix(".json").write_text("{not json", encoding="utf-8")
    meta = call_metadata(audio)
    assert meta.number == "13800138000" and any("旁路文件" in n for n in meta.notes)


# ---------------------------------------------------------------- calls.csv

CSV = """file,number,start,direction,duration,contact_name,received_by,note
voice.m4a,+86 139 0013 9000,2024-01-15 23:05,来电,3:20,某催收,妻子,打到家里
sub/张三(13800138000)_20240115143022.mp3,,2024-01-16T08:30:00,呼出,75,,,
a.amr,10086,2024/1/7 9:05:30,incoming,1分05秒,,,
.\\b.amr,,,,1:05:30,,,
"""


def test_overrides_parse_every_format(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    rows = load_overrides(path)
    assert rows["voice.m4a"] == {"number": "+86 139 0013 9000", "start": T(2024, 1, 15, 23, 5), "direction": "incoming",
                                 "duration": 200.0, "contact_name": "某催收", "received_by": "妻子", "note": "打到家里"}
    assert rows["sub/张三(13800138000)_20240115143022.mp3"] == {"start": T(2024, 1, 16, 8, 30), "direction": "outgoing",
                                                              "duration": 75.0}
    assert rows["a.amr"]["start"] == T(2024, 1, 7, 9, 5, 30) and rows["a.amr"]["duration"] == 65.0
    assert rows["b.amr"] == {"duration": 3930.0}


def test_overrides_win_over_guesses(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8")
    rows = load_overrides(path)
    audio = tmp_path / "sub" / "张三(13800138000)_20240115143022.mp3"
    meta = apply_overrides(call_metadata(audio), audio, rows, root=tmp_path)
    assert meta.start == T(2024, 1, 16, 8, 30) and meta.sources["start"] == "user"
    assert meta.direction == "outgoing" and meta.duration == 75.0 and meta.end == T(2024, 1, 16, 8, 31, 15)
    assert meta.number == "13800138000" and meta.sources["number"] == "filename"
    voice = apply_overrides(call_metadata(tmp_path / "voice.m4a"), tmp_path / "voice.m4a", rows)
    assert (voice.number, voice.number_raw, voice.sources["number"]) == ("13900139000", "+86 139 0013 9000", "user")
    assert (voice.received_by, voice.user_note) == ("妻子", "打到家里")
    other = call_metadata(tmp_path / "other.m4a")
    assert apply_overrides(other, tmp_path / "other.m4a", rows) is other and "user" not in other.sources.values()


def test_overrides_accept_gbk_and_chinese_headers(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes("文件,号码,开始时间,方向\nx.amr,13800138000,2024-01-15 22:00,去电\n".encode("gbk"))
    assert load_overrides(path) == {"x.amr": {"number": "13800138000", "start": T(2024, 1, 15, 22), "direction": "outgoing"}}


@pytest.mark.parametrize("body,line,column", [
    ("file,start\nx.amr,2024-01-15 22:00\ny.amr,昨天晚上\n", 3, "start"),
    ("file,direction\nx.amr,sideways\n", 2, "direction"),
    ("file,duration\nx.amr,-5\n", 2, "duration"),
    ("file,duration\nx.amr,inf\n", 2, "duration"),
    ("file,duration\nx.amr,1:2:3:4\n", 2, "duration"),
    ("file,number\nx.amr,无\n", 2, "number"),
    ("file,start\nx.amr,2024-02-30 10:00\n", 2, "start"),
])
def test_malformed_rows_name_csv_and_line(tmp_path, body, line, column):
    path = tmp_path / "calls.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_overrides(path)
    message = str(err.value)
    assert message.startswith(str(path)) and f"第 {line} 行" in message and column in message
    assert "\n" not in message


@pytest.mark.parametrize("body,needle", [
    ("start,duration\n1,2\n", "第 1 行"), ("file,colour\nx,y\n", "colour"),
    ("file\nx.amr\nx.amr\n", "重复"),
])
def test_bad_header_and_duplicates(tmp_path, body, needle):
    path = tmp_path / "calls.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=needle):
        load_overrides(path)


def test_rows_without_file_are_call_log_rows_not_overrides(tmp_path):
    # they are calls without a recording (pipeline.calllog.user_csv reads them), even a bad one
    path = tmp_path / "calls.csv"
    path.write_text("file,number,start,type\n,10086,2024-01-15 23:05,未接\n,10086,昨天,未接\n"
                    "a.m4a,13800138000,2024-01-15 22:00,\n", encoding="utf-8")
    assert load_overrides(path) == {"a.m4a": {"number": "13800138000", "start": datetime(2024, 1, 15, 22, 0)}}


def test_missing_csv_is_input_error(tmp_path):
    with pytest.raises(InputError, match="无法读取"):
        load_overrides(tmp_path / "nope.csv")
