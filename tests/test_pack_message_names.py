"""Readable names of the pack's message pages (``pipeline.evidence.message_names``): date and time
of the conversation, the other party, the kind; unique (case-insensitively) and stable; safe on
Windows, macOS and Linux; masked with the pack's redactor. The whole pack is checked on a real case
in test_export_messages.py."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from pipeline.evidence.message_names import (
    PARTY_MAX_CHARS,
    STEM_MAX_BYTES,
    message_kind,
    message_stem,
    name_message_files,
    portable_name,
)
from pipeline.evidence.redact import Redactor
from pipeline.evidence.redact_pack import mask_names

COLLECTOR = "13800138000"
THIRD = "13712345678"


def _message(idx: int, time: str | None, number: str | None = COLLECTOR, name: str | None = None,
             direction: str | None = "received") -> Any:
    return SimpleNamespace(idx=idx, time=time, number=number, contact_name=name, direction=direction)


def _file(source_id: str, messages: list[Any], *, fmt: str = "sms_xml", kind: str = "sms", path: str = "x.xml",
          meta: dict | None = None, mtime: float | None = None, flagged: list[Any] | None = None) -> Any:
    source = SimpleNamespace(id=source_id, format=fmt, kind=kind, source_path=path, meta=meta or {}, mtime=mtime)
    flags = [SimpleNamespace(message=m) for m in flagged or []]
    return SimpleNamespace(source=source, messages=messages, flags=flags, stem="")


@pytest.mark.parametrize(("raw", "expected"), [
    ('a/b\\c:d*e?f"g<h>i|j#k%l', "a_b_c_d＊e_f_g_h_i_j_k_l"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("COM1", "_COM1"), ("lpt9", "_lpt9"), ("CONSOLE", "CONSOLE"),
    (" .hidden. ", "hidden"), ("tab\there\nnewline", "tab_here_newline"), ("", "消息"), ("...", "消息"),
])
def test_portable_name_is_safe_on_every_file_system(raw: str, expected: str) -> None:
    assert portable_name(raw) == expected


def test_portable_name_is_bounded_in_utf8_bytes_and_nfc() -> None:
    long = "催收" * 200
    cut = portable_name(long)
    assert len(cut.encode("utf-8")) <= STEM_MAX_BYTES and long.startswith(cut)  # cut on a character
    decomposed = unicodedata.normalize("NFD", "café")
    assert portable_name(decomposed) == "café" and len(portable_name(decomposed)) == 4  # macOS writes NFD


def test_stem_reads_date_time_party_and_kind() -> None:
    sms = _file("a1", [_message(0, "2024-01-15T23:40:00+08:00"), _message(1, "2024-01-16T10:00:00+08:00")])
    assert message_stem(sms) == f"2024-01-15_2340_{COLLECTOR}_短信"
    chat = _file("b2", [_message(0, "2024-01-16T12:00:00", number=None, name="催收-李四")], fmt="qce_txt", kind="chat")
    assert message_stem(chat) == "2024-01-16_1200_催收-李四_QQ"


def test_several_parties_name_the_flagged_one_and_count_the_others() -> None:
    bank = _message(0, "2023-06-01T09:00:00+08:00", number="95588")
    threat = _message(1, "2024-01-15T23:40:00+08:00")
    sms = _file("a1", [bank, threat, _message(2, "2024-01-16T10:00:00+08:00")], flagged=[threat])
    assert message_stem(sms) == f"2024-01-15_2340_{COLLECTOR}等2方_短信"  # the collector's conversation, not the bank's
    unflagged = _file("a1", [bank, _message(1, "2024-01-15T23:40:00+08:00"), _message(2, "2024-01-16T10:00:00+08:00")])
    assert message_stem(unflagged) == f"2024-01-15_2340_{COLLECTOR}等2方_短信"  # the one who wrote most


def test_time_falls_back_to_capture_then_file_time_then_unknown() -> None:
    shot = _file("c3", [_message(0, None)], fmt="screenshot", kind="screenshot",
                 path="Screenshot_2024-01-17-14-05-10_com.tencent.mm.png", meta={"captured": "2024-01-17T14:05:10"})
    assert message_stem(shot) == f"2024-01-17_1405_{COLLECTOR}_微信截图"
    mtime = datetime.fromisoformat("2024-02-01T08:30:00+08:00").timestamp()
    assert message_stem(_file("d4", [_message(0, None)], mtime=mtime)) == f"2024-02-01_0830_{COLLECTOR}_短信"
    assert message_stem(_file("e5", [_message(0, None, number=None)])) == "日期未知_对方未知_短信"


@pytest.mark.parametrize(("fmt", "kind", "path", "meta", "label"), [
    ("sms_xml", "sms", "sms.xml", {}, "短信"), ("vmsg", "sms", "a.vmsg", {}, "短信"),
    ("qq_mht", "chat", "a.mht", {}, "QQ"), ("qce_json", "chat", "a.json", {}, "QQ"),
    ("chat_text", "chat", "qq.txt", {"counterpart": "张三"}, "QQ"), ("chat_text", "chat", "wx.txt", {}, "聊天记录"),
    ("memotrace_html", "chat", "a.html", {}, "微信"), ("wechat_exporter_txt", "chat", "a.txt", {}, "微信"),
    ("sms_csv", "chat", "wechat.csv", {}, "微信"),
    ("screenshot", "screenshot", "Screenshot_20240117_com.tencent.mobileqq.jpg", {}, "QQ截图"),
    ("screenshot", "screenshot", "IMG_0001.PNG", {}, "截图"),
])
def test_kind_is_what_a_clerk_calls_the_file(fmt: str, kind: str, path: str, meta: dict, label: str) -> None:
    assert message_kind(SimpleNamespace(format=fmt, kind=kind, source_path=path, meta=meta)) == label


def test_hostile_party_names_are_safe_and_bounded() -> None:
    name = 'CON/..\\催收:"*?<>|' + "很长的群名" * 20
    stem = message_stem(_file("f6", [_message(0, "2024-01-15T23:40:00", number=None, name=name)], fmt="qce_txt",
                              kind="chat"))
    party = stem.split("_", 2)[2].rsplit("_", 1)[0]
    assert not set('/\\:*?"<>|') & set(stem) and len(party) <= PARTY_MAX_CHARS and party.endswith("…")
    assert len(stem.encode("utf-8")) <= STEM_MAX_BYTES


def test_names_are_unique_case_insensitively_and_stable() -> None:
    def files() -> list[Any]:
        return [_file("aaaaaaaa11", [_message(0, "2024-01-15T23:40:00", number=None, name="Collector")],
                      fmt="qce_txt", kind="chat"),
                _file("bbbbbbbb22", [_message(0, "2024-01-15T23:40:00", number=None, name="collector")],
                      fmt="qce_txt", kind="chat"),
                _file("cccccccc33", [_message(0, "2024-01-16T08:00:00")])]
    first = files()
    name_message_files(first)
    stems = [f.stem for f in first]
    assert stems == ["2024-01-15_2340_Collector_QQ_aaaaaaaa", "2024-01-15_2340_collector_QQ_bbbbbbbb",
                     f"2024-01-16_0800_{COLLECTOR}_短信"]
    again = list(reversed(files()))
    name_message_files(again)
    assert [f.stem for f in reversed(again)] == stems  # the same names whatever the order


def test_masking_hides_a_third_partys_number_and_keeps_names_unique() -> None:
    redactor = Redactor.keeping([COLLECTOR])
    files = [_file("aaaaaaaa11", [_message(0, "2024-01-15T23:40:00", number=None, name=f"表哥{THIRD}")],
                   fmt="qce_txt", kind="chat"),
             _file("bbbbbbbb22", [_message(0, "2024-01-15T23:40:00", number=None, name="表哥13799995678")],
                   fmt="qce_txt", kind="chat"),
             _file("cccccccc33", [_message(0, "2024-01-16T08:00:00")])]
    name_message_files(files, redactor.text)
    masked = THIRD[:3] + "＊＊＊＊" + THIRD[-4:]  # '*' is not allowed in a Windows file name
    assert files[0].stem.startswith(f"2024-01-15_2340_表哥{masked}_QQ")
    assert THIRD not in files[0].stem and len({f.stem for f in files}) == 3  # the same once masked: ids added
    assert files[0].stem.endswith("_aaaaaaaa") and files[1].stem.endswith("_bbbbbbbb")
    assert files[2].stem == f"2024-01-16_0800_{COLLECTOR}_短信"  # the collector's number is kept


def test_mask_names_gives_windows_safe_masked_originals_and_pages() -> None:
    call = SimpleNamespace(original_name=f"originals/表哥{THIRD}.amr")
    shot = _file("aaaaaaaa11", [_message(0, "2024-01-17T14:01:00", number=None, name=f"表哥{THIRD}")],
                 fmt="screenshot", kind="screenshot", path=f"Screenshot_{THIRD}.png")
    shot.original_name, shot.annotated_name = f"originals/{THIRD}.png", f"screenshots_annotated/{THIRD}.png.annotated.png"
    shot.is_screenshot = True
    mask_names(SimpleNamespace(calls=[call], message_files=[shot]), Redactor.keeping([COLLECTOR]))
    masked = THIRD[:3] + "＊＊＊＊" + THIRD[-4:]
    assert call.original_name == f"originals/表哥{masked}.amr" and shot.original_name == f"originals/{masked}.png"
    assert shot.annotated_name == f"screenshots_annotated/{masked}.png.annotated.png"
    assert shot.stem == f"2024-01-17_1401_表哥{masked}_截图"
    assert not any(set('*?:"<>|\\') & set(n) for n in (call.original_name, shot.original_name, shot.stem))
