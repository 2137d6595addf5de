"""Real export shapes (issue 14): 12-hour clocks, group chats, iOS/WeChat CSVs, MMS edge cases, cut
backups, SMS databases, QQ MHT, refused formats; imported into a real case store and flagged by
the real rule engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import message_format_fixtures as F
import pytest
from click.testing import CliRunner
from rich.console import Console

from pipeline.errors import InputError
from pipeline.messages.chat_text import parse_chat_text
from pipeline.messages.importer import discover_messages, import_messages, parse_message_file
from pipeline.messages.sms_csv import parse_sms_csv
from pipeline.messages.sms_db import apple_time, attributed_text, parse_sms_db
from pipeline.messages.sms_xml import parse_sms_xml, repair_char_refs
from pipeline.messages.summary import print_message_summary
from pipeline.messages.times import parse_datetime
from pipeline.render.html_case import write_case_html
from pipeline.rules import load_engine
from pipeline.store.messages import open_store


@pytest.fixture(scope="module")
def rules():  # noqa: ANN201
    return load_engine()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, F.Fixture]:
    return {fx.name: fx for fx in F.fixtures(tmp_path_factory.mktemp("build"))}


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def flagged_texts(store) -> dict[str, set[str]]:  # noqa: ANN001
    messages = {m.id: m for m in store.messages()}
    out: dict[str, set[str]] = {}
    for flag in store.message_flags(level="text"):
        out.setdefault(messages[flag.message_id].text, set()).add(flag.category)
    return out


# ------------------------------------------------------------------ 1. QQ with a 12-hour clock

def test_twelve_hour_times() -> None:
    assert parse_datetime("2019-09-23 8:43:38 PM") == datetime(2019, 9, 23, 20, 43, 38)
    assert parse_datetime("2019-09-23 12:12:29 AM") == datetime(2019, 9, 23, 0, 12, 29)
    assert parse_datetime("2019-09-23 12:12:29 PM") == datetime(2019, 9, 23, 12, 12, 29)
    assert parse_datetime("2023/09/16 2:51 p.m.") == datetime(2023, 9, 16, 14, 51)
    assert parse_datetime("Jul 23, 2011 6:12:54 AM") == datetime(2011, 7, 23, 6, 12, 54)
    assert parse_datetime("2019-09-23 13:00 PM") is None  # not a 12-hour time


def test_qq_12_hour_export_keeps_evening_times_and_clean_names(tmp_path: Path, fixtures, rules) -> None:  # noqa: ANN001
    fx = fixtures["QQ TXT 12 小时制"]
    parsed = parse_chat_text(fx.write(tmp_path))
    assert [(m.time, m.sender, m.direction) for m in parsed.messages] == [
        (datetime(2019, 9, 23, 20, 43, 38), "催收-赵六", "received"),
        (datetime(2019, 9, 23, 20, 50, 2), "小明", "sent"),
        (datetime(2019, 9, 24, 0, 12, 29), "催收-赵六", "received"),
        (datetime(2019, 9, 24, 12, 30), "催收-赵六", "received")]
    with open_store(tmp_path / "case") as store:
        import_messages(store, [tmp_path / fx.main], rules, tmp_path)
        by_text = {m.text: m for m in store.messages()}
        off = {by_text_id.text for f in store.message_flags(level="log") if f.category == "OFF_HOURS"
               for by_text_id in [next(m for m in by_text.values() if m.id == f.message_id)]}
    assert off == {F.THREATS["violence"]}  # 00:12:29 is off-hours; 12:30 PM (noon) is not


# ------------------------------------------------------------------ 2. group chats

def test_group_owner_inferred_from_private_chats_and_threats_flagged(tmp_path: Path, fixtures, rules) -> None:  # noqa: ANN001
    fx = fixtures["QQ TXT 群聊（本人由私聊推断）"]
    group = fx.write(tmp_path / "INPUT")
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, discover_messages(tmp_path / "INPUT"), rules, tmp_path / "INPUT")
        outcome = next(o for o in report.outcomes if o.path == group)
        [notice] = outcome.notices
        assert "本人 = 小明" in notice and "老同学甲.txt" in notice and "推断" in notice
        rows = [m for m in store.messages(outcome.source_id)]
        assert [(m.sender, m.direction) for m in rows] == [
            ("催收专员(20002)", "received"), ("老同学甲(30003)", "received"), ("小明(10001)", "sent"),
            ("催收专员(20002)", "received")]
        flags = store.message_flags(source_id=outcome.source_id, level="text")
        by_id = {m.id: m for m in rows}
        assert {by_id[f.message_id].text for f in flags} == {F.THREATS["expose"], F.THREATS["contacts"]}
        assert not any(f.speaker_unconfirmed for f in flags)  # the owner is known: the collector's side is sure
        page = json.loads((tmp_path / "case" / "messages" / outcome.source_id / "messages.json").read_text())
        assert page["messages"][0]["contact_name"] == "催收专员(20002)"


def test_group_without_owner_says_so_and_keeps_flags_unconfirmed(tmp_path: Path, rules) -> None:  # noqa: ANN001
    path = write(tmp_path / "INPUT" / "群.txt", F.QQ_GROUP)
    parsed = parse_message_file(path)
    assert parsed.meta["group"] and {m.direction for m in parsed.messages} == {None}
    assert "无法确定哪位发言人是本人" in parsed.meta["notices"][0] and "me" in parsed.meta["notices"][0]
    with open_store(tmp_path / "case") as store:
        import_messages(store, [path], rules, tmp_path / "INPUT")
        flags = store.message_flags(level="text")
        assert flags and all(f.speaker_unconfirmed for f in flags)
        # the owner named in messages.csv: the directions and the notice follow on the next import
        write(tmp_path / "INPUT" / "messages.csv", "file,me\n群.txt,小明(10001)\n")
        [outcome] = import_messages(store, [path], rules, tmp_path / "INPUT").outcomes
        assert outcome.status == "done" and "由用户给出" in outcome.notices[0]
        assert [m.direction for m in store.messages()] == ["received", "received", "sent", "received"]


def test_private_chat_added_later_reparses_the_group(tmp_path: Path, rules) -> None:  # noqa: ANN001
    group = write(tmp_path / "INPUT" / "群.txt", F.QQ_GROUP)
    with open_store(tmp_path / "case") as store:
        import_messages(store, [group], rules, tmp_path / "INPUT")
        write(tmp_path / "INPUT" / "老同学甲.txt", F.QQ_PRIVATE_BESIDE)
        [outcome] = import_messages(store, [group], rules, tmp_path / "INPUT").outcomes
        assert outcome.status == "done" and "推断" in outcome.notices[0]
        assert "sent" in {m.direction for m in store.messages(outcome.source_id)}


def test_qq_mht_group_owner_from_colours(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["QQ MHT 群聊"].write(tmp_path))
    assert parsed.format == "qq_mht" and parsed.meta["group"] and parsed.meta["me"] == ["小明(10001)"]
    assert [(m.sender, m.direction, m.time) for m in parsed.messages][:3] == [
        ("催收专员(20002)", "received", datetime(2019, 9, 23, 20, 43, 38)),  # green but first of the day
        ("老同学甲(30003)", "received", datetime(2019, 9, 23, 20, 44)),
        ("小明(10001)", "sent", datetime(2019, 9, 23, 20, 45, 10))]
    assert parsed.messages[1].text == "这是谁啊\n怎么回事" and parsed.messages[3].text.endswith("[图片]")


# ------------------------------------------------------------------ 3. WeChat for PC with AM/PM

def test_wechat_pc_copy_with_am_pm(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_message_file(fixtures["微信 PC 复制（AM/PM）"].write(tmp_path))
    assert parsed.meta["shape"] == "name_time"
    assert [(m.sender, m.time, m.direction) for m in parsed.messages] == [
        ("催收小王", datetime(2023, 9, 16, 21, 51), "received"), ("女朋友", datetime(2023, 9, 16, 22, 2), "received"),
        ("我", datetime(2023, 9, 16, 22, 3), "sent")]


# ------------------------------------------------------------------ 4. emoji after another reference

def test_surrogate_pairs_after_another_reference() -> None:
    assert repair_char_refs("&#10;&#55357;&#56832;") == "&#10;&#128512;"
    assert repair_char_refs("&#55357;&#56832;&#55357;&#56832;") == "&#128512;&#128512;"
    assert repair_char_refs("&#xD83D;&#xDE00;") == "&#128512;"
    assert repair_char_refs("&#55357;x&#56832;") == "&#xFFFD;x&#xFFFD;"  # lone halves stay visible as U+FFFD


# ------------------------------------------------------------------ 5. iOS / WeChat CSVs

def test_imazing_csv_time_number_name(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_sms_csv(fixtures["iOS iMazing CSV"].write(tmp_path))
    assert [(m.direction, m.number, m.contact_name, m.time) for m in parsed.messages] == [
        ("received", F.COLLECTOR, "催收李", datetime(2024, 1, 15, 23, 5)),
        ("sent", F.COLLECTOR, "催收李", datetime(2024, 1, 15, 23, 6, 10)),  # from the chat session's received rows
        ("received", F.COLLECTOR, "催收李", datetime(2024, 1, 16, 8, 30))]
    assert parsed.messages[2].text.endswith("\n（第二行）")
    assert [(p.reason_zh, p.skipped) for p in parsed.problems] == [("1 条系统通知没有文字，未导入", 1)]


def test_phoneview_and_wechatmsg_csv(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    phone = parse_sms_csv(fixtures["iOS PhoneView CSV"].write(tmp_path))
    assert [(m.direction, m.number, m.contact_name, m.time) for m in phone.messages] == [
        ("received", F.COLLECTOR_2, None, datetime(2024, 1, 16, 23, 40, 12)),
        ("sent", F.COLLECTOR_2, None, datetime(2024, 1, 16, 23, 41))]
    wx = parse_sms_csv(fixtures["微信 留痕 CSV"].write(tmp_path))
    assert wx.kind == "chat" and [(m.direction, m.contact_name, m.number, m.time) for m in wx.messages] == [
        ("received", "催收-阿强", None, datetime(2024, 1, 15, 15, 31, 5, tzinfo=UTC)),
        ("sent", "催收-阿强", None, datetime(2024, 1, 15, 15, 31, 40, tzinfo=UTC))]
    assert sorted(p.reason_zh for p in wx.problems) == ["1 条图片消息（Type=3）没有文字，未导入",
                                                       "1 条系统消息（Type=10000）没有文字，未导入"]


def test_csv_missing_columns_are_reported(tmp_path: Path, rules) -> None:  # noqa: ANN001
    no_time = parse_sms_csv(write(tmp_path / "a.csv", "Text,Type,Sent On\n你好,Incoming,昨天\n"))
    [warning, other] = no_time.problems
    assert "没有可识别的时间列" in warning.reason_zh and "Sent On" in warning.reason_zh and warning.skipped == 0
    assert "没有可识别的号码或联系人列" in other.reason_zh
    path = write(tmp_path / "INPUT" / "通讯录.csv", "姓名,手机\n张三,13800000000\n")
    assert discover_messages(tmp_path / "INPUT") == [path]
    with open_store(tmp_path / "case") as store:
        [outcome] = import_messages(store, [path], rules, tmp_path / "INPUT").outcomes
    assert outcome.status == "failed" and outcome.error.startswith(str(path)) and "\n" not in outcome.error
    assert "内容列（body/text/内容）" in outcome.error and "['姓名', '手机']" in outcome.error


# ------------------------------------------------------------------ 6/7. MMS, drafts, cut backups, the run summary

def test_mms_email_group_and_cut_backup(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    parsed = parse_sms_xml(fixtures["短信备份 XML（彩信/群发/草稿/截断）"].write(tmp_path))
    first, _, email, group_in, group_out, _ = parsed.messages
    assert first.text.endswith("\n😠😠")
    assert (email.number, email.number_raw, email.contact_name) == (None, "someone@example.org", "someone@example.org")
    assert group_in.number == F.COLLECTOR_2 and group_in.meta["recipients"] == ["13712340001", "13712340002"]
    assert group_out.meta["recipients"] == ["13712340001", "13712340002"] and "收件人 2 个" in group_out.notes[0]
    reasons = [p.reason_zh for p in parsed.problems]
    assert reasons == ["草稿，未发送，已跳过", "备份声明 count=9 条，实际读到 7 条，文件没有结束标记，可能被截断（少了的条目无法恢复）"]


def test_complete_backup_with_matching_count_has_no_warning(tmp_path: Path) -> None:
    text = F.SMS_XML.replace('count="9"', 'count="7"') + "</smses>\n"
    assert parse_sms_xml(write(tmp_path / "ok.xml", text)).problems[-1].reason_zh.startswith("草稿")


def test_message_summary_lines_and_sms_only_case_index(tmp_path: Path, fixtures, rules) -> None:  # noqa: ANN001
    fx = fixtures["短信备份 XML（彩信/群发/草稿/截断）"]
    inputs = tmp_path / "INPUT"
    fx.write(inputs / "本人")
    write(inputs / "本人" / "notes.csv", "a,b\n1,2\n")
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, discover_messages(inputs), rules, inputs)
        console = Console(record=True, width=200)
        print_message_summary(console, report)
        out = console.export_text()
        assert "消息导入结果" in out and "短信备份XML" in out
        assert "消息文件 2 个：导入 6 条，跳过 1 条" in out and "失败 1 个文件" in out
        assert "跳过/警告: sms-20240115.xml: 第 6 行: 草稿，未发送，已跳过" in out
        assert "count=9" in out and "失败: " in out and "notes.csv" in out
        assert report.to_dict()["skipped"] == 1 and report.to_dict()["per_file"][1]["messages"] == 6
        write_case_html(tmp_path / "case", store)
    index = (tmp_path / "case" / "index.html").read_text(encoding="utf-8")
    assert "共导入 6 条消息（收到 3 条，发出 3 条" in index and "跳过 1" in index


def test_add_messages_prints_skips(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    from pipeline.commands.messages_cmd import add_messages_command

    path = fixtures["短信备份 XML（彩信/群发/草稿/截断）"].write(tmp_path)
    result = CliRunner().invoke(add_messages_command, [str(tmp_path / "case"), str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "导入 6 条，跳过 1 条" in result.output and "草稿" in result.output and "count=9" in result.output


# ------------------------------------------------------------------ databases

def test_sms_databases(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    ios = parse_message_file(fixtures["iOS sms.db"].write(tmp_path / "ios"))
    assert ios.format == "sms_db" and ios.meta["variant"] == "ios"
    assert [(m.direction, m.number, m.text) for m in ios.messages] == [
        ("received", F.COLLECTOR, F.THREATS["visit"]), ("received", F.COLLECTOR, F.THREATS["blast"]),
        ("sent", F.COLLECTOR, F.REPLY)]
    assert ios.messages[0].time == datetime(2024, 1, 15, 15, 31, 5, tzinfo=UTC)
    assert sum(p.skipped for p in ios.problems) == 2
    android = parse_sms_db(fixtures["Android mmssms.db"].write(tmp_path / "android"))
    assert android.meta["variant"] == "android" and len(android.messages) == 4
    assert [p.reason_zh for p in android.problems] == ["第 3 条（rowid）是草稿，未发送，已跳过"]
    harmony = parse_sms_db(fixtures["鸿蒙/华为式 sms.db"].write(tmp_path / "harmony"))
    assert [(m.direction, m.number) for m in harmony.messages] == [("received", F.COLLECTOR_2), ("sent", F.COLLECTOR_2)]
    assert apple_time(727025465) == apple_time(727025465 * 10**9) == datetime(2024, 1, 15, 15, 31, 5, tzinfo=UTC)
    assert attributed_text(F.attributed_body("长" * 100)) == "长" * 100  # a length over 127 bytes


def test_database_files_are_never_written(tmp_path: Path, fixtures) -> None:  # noqa: ANN001
    path = fixtures["Android mmssms.db"].write(tmp_path)
    before = path.read_bytes()
    parse_sms_db(path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mmssms.db"]


def test_encrypted_or_foreign_databases_are_refused(tmp_path: Path) -> None:
    encrypted = write(tmp_path / "sms.db", b"\x8a\x13" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match="不是 SQLite 数据库，可能是加密的备份"):
        parse_message_file(encrypted)
    import sqlite3

    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (title TEXT, body TEXT)")
    conn.close()
    with pytest.raises(InputError, match=r"数据库里没有短信表.*notes"):
        parse_message_file(other)
    # a SQLite file without a .db name and without SMS tables (another app's data) is not a message file
    write(tmp_path / "INPUT" / "ab12cd", other.read_bytes())
    assert discover_messages(tmp_path / "INPUT") == []


# ------------------------------------------------------------------ refused apps

def test_whatsapp_and_telegram_are_named(tmp_path: Path) -> None:
    whatsapp = write(tmp_path / "WhatsApp Chat with 张三.txt",
                     "[23/09/2019, 20:43:38] 张三: 你好\n[23/09/2019, 20:44:01] 李四: 在吗\n")
    with pytest.raises(InputError, match="WhatsApp 导出的聊天记录，暂不支持") as err:
        parse_message_file(whatsapp)
    assert "\n" not in str(err.value)
    telegram = write(tmp_path / "result.json", '{"name": "张三", "type": "personal_chat", "id": 1, "messages": []}')
    assert discover_messages(tmp_path) == [whatsapp, telegram]
    with pytest.raises(InputError, match="Telegram 导出的聊天记录暂不支持"):
        parse_message_file(telegram)
    miui = write(tmp_path / "短信(com.android.mms).bak", b"MIUI BAK\n2\ncom.android.mms\n" + bytes(64))
    with pytest.raises(InputError, match="小米（MIUI）备份 .bak 文件暂不能直接读取"):
        parse_message_file(miui)


# ------------------------------------------------------------------ every format end to end

@pytest.mark.parametrize("name", [fx.name for fx in F.fixtures(Path("/tmp/callproof-fixture-names"))])
def test_every_format_imports_and_flags_planted_threats(tmp_path: Path, fixtures, rules, name: str) -> None:  # noqa: ANN001
    fx = fixtures[name]
    path = fx.write(tmp_path / "INPUT")
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, discover_messages(tmp_path / "INPUT"), rules, tmp_path / "INPUT")
        outcome = next(o for o in report.outcomes if o.path == path)
        assert outcome.status == "done" and outcome.messages == fx.texts, outcome
        rows = store.messages(outcome.source_id)
        assert sum(1 for m in rows if m.time) == (fx.timed if fx.timed is not None else fx.texts)
        flagged = flagged_texts(store)
        assert all(any(threat in text for text in flagged) for threat in fx.planted), (fx.planted, flagged)
        assert not any(F.REPLY in text for text in flagged)  # the borrower's own reply is never flagged
