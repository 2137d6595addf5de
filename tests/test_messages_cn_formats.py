"""Issue 14, second round: QQChatExporter JSON/TXT, 留痕 HTML, WechatExporter TXT/HTML, vMessage SMS,
unencrypted Android / MIUI backups — imported into a real case store and flagged by the real rule
engine — and the files that are refused, each in one Chinese line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import message_format_fixtures_cn as C
import pytest

from pipeline.errors import InputError
from pipeline.messages.importer import detect_format, discover_messages, import_messages, parse_message_file
from pipeline.messages.summary import detail_lines
from pipeline.rules import load_engine
from pipeline.store.messages import open_store

THREATS = C.THREATS


@pytest.fixture(scope="module")
def rules():  # noqa: ANN201
    return load_engine()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, C.Fixture]:
    return {fx.name: fx for fx in C.fixtures(tmp_path_factory.mktemp("build"))}


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def refused(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        parse_message_file(path)
    line = str(caught.value)
    assert "\n" not in line
    return line


# ------------------------------------------------------------------ every format end to end

@pytest.mark.parametrize("name", [fx.name for fx in C.fixtures(Path("/tmp/callproof-cn-fixture-names"))])
def test_every_new_format_imports_and_flags_planted_threats(tmp_path: Path, fixtures, rules, name: str) -> None:  # noqa: ANN001
    fx = fixtures[name]
    path = fx.write(tmp_path / "INPUT")
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, discover_messages(tmp_path / "INPUT"), rules, tmp_path / "INPUT")
        outcome = next(o for o in report.outcomes if o.path == path)
        assert outcome.status == "done", outcome.error
        rows = store.messages(outcome.source_id)
        by_id = {m.id: m for m in rows}
        flagged = {by_id[f.message_id].text for f in store.message_flags(source_id=outcome.source_id, level="text")}
    assert outcome.messages == fx.texts
    assert sum(1 for m in rows if m.time) == fx.texts
    assert outcome.skipped == fx.entries - fx.texts
    for threat in fx.planted:
        assert threat in flagged, threat
    assert C.REPLY not in flagged  # the owner's own reply is sent: no conduct flag


# ------------------------------------------------------------------ QQChatExporter

def test_qce_json_directions_times_and_skips(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["QQChatExporter JSON 私聊"].write(tmp_path))
    assert [(m.direction, m.sender) for m in parsed.messages] == [
        ("received", "催收-赵六(20002)"), ("sent", "小明(10001)"), ("received", "催收-赵六(20002)"),
        ("received", "催收-赵六(20002)")]
    assert parsed.messages[0].time == datetime(2024, 1, 15, 14, 31, 5, tzinfo=UTC)  # 22:31:05 Beijing
    assert parsed.messages[0].time_source == "epoch"
    assert parsed.messages[2].notes == ["对方已撤回（导出时仍保留了内容）"]
    assert sorted(str(p) for p in parsed.problems) == ["1 条图片消息没有文字，未导入 (1 skipped: 图片消息)",
                                                      "1 条系统消息没有文字，未导入 (1 skipped: 系统消息)"]


def test_qce_json_without_owner_says_so(tmp_path: Path) -> None:
    document = {**C.QCE_JSON_GROUP, "chatInfo": {"name": "小明的同学群", "type": "group"}}
    parsed = parse_message_file(write(tmp_path / "g.json", json.dumps(document, ensure_ascii=False)))
    assert {m.direction for m in parsed.messages} == {None}
    assert "无法确定哪位发言人是本人" in parsed.meta["notices"][0]
    again = parse_message_file(tmp_path / "g.json", me=("小明(10001)",))
    assert [m.direction for m in again.messages] == ["received", "received", "sent", "received"]


def test_qce_txt_reads_multiline_content_and_drops_its_own_lines(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["QQChatExporter TXT"].write(tmp_path))
    assert parsed.messages[0].text == THREATS["visit"] + "\n第二行：不接电话就等着"
    assert parsed.messages[2].text == THREATS["blast"]  # the 回复: line is not part of the message
    assert parsed.messages[3].sender == "催收-赵六"  # "[管理员] " title dropped
    assert [m.direction for m in parsed.messages] == ["received", "sent", "received", "received"]


def test_broken_qce_json_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", '{"metadata":{"name":"QQChatExporter"},"chatInfo":{"name":"a"},"messages":[{"id":')
    assert detect_format(path) == "qce_json"
    assert "QQChatExporter 的 JSON 文件损坏" in refused(path)


def test_qce_html_is_named_unsupported(tmp_path: Path) -> None:
    page = ('\n<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n    <meta charset="UTF-8">\n'
            '    <meta name="generator" content="QQ聊天记录导出工具">\n    <title>催收-赵六</title>\n</head><body></body></html>')
    path = write(tmp_path / "催收-赵六.html", page)
    assert detect_format(path) == "unsupported"
    assert "QQChatExporter 的网页（HTML）导出暂不支持；请在 QQChatExporter 里改为导出 JSON 或 TXT" in refused(path)


# ------------------------------------------------------------------ WeChat tools

def test_memotrace_html_unescapes_text_and_keeps_the_quote(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["微信 留痕 HTML"].write(tmp_path))
    assert parsed.messages[0].text == THREATS["expose"] + "\n截图都给你存好了 <别删>"
    assert parsed.messages[2].notes == ["引用：小明：" + C.REPLY]
    assert [m.direction for m in parsed.messages] == ["received", "sent", "received"]
    assert parsed.messages[1].contact_name == "催收-阿强"


def test_cut_memotrace_page_keeps_messages_and_warns(tmp_path: Path) -> None:
    cut = C.MEMOTRACE_HTML[:C.MEMOTRACE_HTML.index("{ type:3")]
    parsed = parse_message_file(write(tmp_path / "cut.html", cut))
    assert len(parsed.messages) == 2
    assert any("chatMessages 数据没有结尾" in str(p) for p in parsed.problems)


def test_wechat_exporter_txt_needs_the_owner_when_the_title_is_no_sender(tmp_path: Path) -> None:
    text = C.WECHAT_EXPORTER_TXT.replace("催收小王 - 微信聊天记录", "王经理 - 微信聊天记录")
    path = write(tmp_path / "w.txt", text)
    parsed = parse_message_file(path)
    assert {m.direction for m in parsed.messages} == {None}
    assert "无法确定哪位发言人是本人" in parsed.meta["notices"][0]
    assert [m.direction for m in parse_message_file(path, me=("小明",)).messages] == [
        "received", "sent", "received", "received"]


def test_wechat_exporter_html_direction_from_alignment(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["微信 WechatExporter HTML"].write(tmp_path))
    assert [(m.direction, m.meta.get("wxid")) for m in parsed.messages] == [
        ("received", "wxid_collector02"), ("sent", "wxid_me01"), ("received", "wxid_collector02")]
    assert parsed.messages[0].text.endswith("<最后通知>")


def test_wechat_exporter_async_page_is_one_line(tmp_path: Path) -> None:
    page = ('<html><head><title>催收小王 - 微信聊天记录</title></head><body uid="a" sid="b">'
            '<script>script.src = "Data/msg-" + nextPage + ".js";</script></body></html>')
    assert "异步加载" in refused(write(tmp_path / "p.html", page))


# ------------------------------------------------------------------ SMS: vMessage and Android backups

def test_vmsg_quoted_printable_soft_breaks_and_gmt_warning(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["华为/联发科 vmsg 短信"].write(tmp_path))
    first = parsed.messages[0]
    assert first.text == THREATS["blast"] + "\n" + THREATS["visit"]  # decoded across QP soft line breaks
    assert (first.number, first.direction, first.time) == ("13800138000", "received", datetime(2024, 1, 15, 22, 31, 5))
    assert any("GMT" in str(p) and p.skipped == 0 for p in parsed.problems)


def test_cut_vmsg_reports_the_unfinished_message(tmp_path: Path) -> None:
    cut = C.NOKIA_VMG[:C.NOKIA_VMG.index("END:VENV\nEND:VMSG\nBEGIN:VMSG\nVERSION:1.1\nX-IRMC-STATUS:READ\nX-IRMC-BOX:SENT")]
    parsed = parse_message_file(write(tmp_path / "cut.vmg", cut))
    assert [m.text for m in parsed.messages] == [THREATS["violence"]]
    assert any("缺 END:VMSG" in str(p) for p in parsed.problems)


def test_android_backup_is_read_in_memory(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    path = fixtures["小米 .bak（MIUI 头 + 未加密 Android 备份）"].write(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    parsed = parse_message_file(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside the original
    assert parsed.meta["members"] == [C.SMS_BACKUP_MEMBER]
    assert parsed.meta["notices"] == [f"从小米备份中读取：{C.SMS_BACKUP_MEMBER}"]


def test_android_backup_with_an_sms_xml_inside(tmp_path: Path) -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8"?><smses count="1"><sms address="13800138000" date="1705329065000" '
           f'type="1" body="{THREATS["visit"]}" /></smses>').encode()
    parsed = parse_message_file(write(tmp_path / "x.ab", C.android_backup({"apps/x/f/sms.xml": xml})))
    assert [(m.text, m.meta["member"]) for m in parsed.messages] == [(THREATS["visit"], "apps/x/f/sms.xml")]


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("加密.ab", C.android_backup({}, encryption="AES-256"), "这是加密的备份（设置了备份密码"),
    ("短信.bak", C.android_backup({}, miui=True, encryption="AES-256"), "小米（MIUI）备份 .bak 文件暂不能直接读取：这是加密的备份"),
    ("新版.bak", b"MIUI BAK\n2\ncom.android.mms\n" + bytes(64), "文件里没有标准的 Android 备份数据"),
    ("联系人.ab", C.android_backup({"apps/com.android.contacts/f/contacts.vcf": b"BEGIN:VCARD\nEND:VCARD\n"}),
     "备份里没有找到短信数据（内含：apps/com.android.contacts/f/contacts.vcf）"),
    ("截断.ab", C.android_backup({C.SMS_BACKUP_MEMBER: b"x" * 64})[:40], "备份数据不完整（文件被截断？）"),
])
def test_unreadable_backups_are_one_chinese_line(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    path = write(tmp_path / name, data)
    assert detect_format(path) == "android_backup"
    line = refused(path)
    assert expected in line
    assert "SMS Backup & Restore" in line  # and what to do instead


@pytest.mark.parametrize(("name", "expected"), [
    ("signal-2024-01-15-22-31-05.backup", "Signal 的备份文件（.backup）是加密的，暂不支持"),
    ("msgstore.db.crypt14", "WhatsApp 的加密备份（msgstore.db.cryptNN）暂不支持"),
])
def test_signal_and_whatsapp_backups_are_named(tmp_path: Path, name: str, expected: str) -> None:
    path = write(tmp_path / name, bytes(range(200)))
    assert detect_format(path) == "unsupported"
    assert expected in refused(path)


# ------------------------------------------------------------------ discovery and the run summary

def test_discovery_and_one_summary_line_per_failed_file(tmp_path: Path, fixtures, rules) -> None:  # noqa: ANN001
    inputs = tmp_path / "INPUT"
    for fx in fixtures.values():
        fx.write(inputs)
    write(inputs / "加密.ab", C.android_backup({}, encryption="AES-256"))
    write(inputs / "signal-2024-01-15-22-31-05.backup", bytes(100))
    write(inputs / "package.json", '{"name": "not a chat"}')  # ignored, not a message file
    write(inputs / "readme.html", "<html><body>hello</body></html>")
    found = discover_messages(inputs)
    assert {p.name for p in found} >= {"催收-赵六.json", "同学群.json", "催收-阿强.html", "sms.vmsg", "nokia.vmg",
                                       "backup.ab", "短信(com.android.mms).bak", "加密.ab"}
    assert not {"package.json", "readme.html"} & {p.name for p in found}
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, found, rules, inputs)
    failed = [line for line in detail_lines(report) if line.startswith("  失败")]
    assert len(failed) == 2
    assert any("加密.ab" in line and "这是加密的备份" in line for line in failed)
    assert any("Signal" in line for line in failed)


@pytest.mark.parametrize("fmt", ["qce_txt", "wechat_exporter_txt", "wechat_exporter_html", "memotrace_html", "vmsg"])
def test_text_exports_get_a_masked_copy_in_a_redacted_pack(fmt: str) -> None:
    from pipeline.evidence.redact import Redactor
    from pipeline.evidence.redact_pack import redacted_original

    text = {"qce_txt": C.QCE_TXT, "wechat_exporter_txt": C.WECHAT_EXPORTER_TXT, "wechat_exporter_html": C.WECHAT_EXPORTER_HTML,
            "memotrace_html": C.MEMOTRACE_HTML, "vmsg": C.HUAWEI_VMSG}[fmt] + "\n我的电话 13912345678\n"
    masked = redacted_original(text.encode("utf-8"), fmt, Redactor())
    assert masked is not None
    out = masked.decode("utf-8")
    assert "13912345678" not in out and "我的电话" in out
    assert redacted_original(b'{"selfUin": 13912345678}', "qce_json", Redactor()) is None  # JSON is left out, listed
