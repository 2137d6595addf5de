"""Message parsers (SMS backup XML / CSV, chat text exports), import into a case, message rules."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.errors import InputError
from pipeline.messages.chat_text import parse_chat_text
from pipeline.messages.importer import discover_messages, import_messages, parse_message_file
from pipeline.messages.model import Message
from pipeline.messages.sms_csv import parse_sms_csv
from pipeline.messages.sms_xml import parse_sms_xml, repair_char_refs
from pipeline.messages.times import capture_time_from_name, parse_datetime, resolve_label
from pipeline.msgrules import MessageRuleOptions, flag_message_text, message_log_flags
from pipeline.rules import load_engine
from pipeline.store.messages import open_store

DATA = Path(__file__).parent / "data"
COLLECTOR = "13800138000"

# 23:31:05 and 23:32:05 Beijing time on 2024-01-15 (epoch ms, UTC 15:31:05)
SMS_XML = """<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002-->
<?xml-stylesheet type="text/xsl" href="sms.xsl"?>
<smses count="7" backup_set="5c1f" backup_date="1705336800000" type="full">
  <sms protocol="0" address="+86 138-0013-8000" date="1705332665000" type="1" subject="null" body="再不还钱就爆你通讯录 &#55357;&#56864; &lt;老赖&gt; &amp; 全家&#10;第二行" toa="null" sc_toa="null" service_center="+8613800100500" read="1" status="-1" locked="0" date_sent="1705332664000" sub_id="1" readable_date="2024年1月15日 下午11:31:05" contact_name="(Unknown)" />
  <sms protocol="0" address="13800138000" date="1705332725000" type="2" body="你们再打我就报警，爆我通讯录是违法的&#1;" readable_date="2024年1月15日 下午11:32:05" contact_name="催收A" />
  <sms protocol="0" address="13800138000" date="1705332785000 type="1" body="这一条的引号坏了" />
  <sms protocol="0" address="95588" date="1705290000000" type="1" body="【工商银行】您尾号1234的卡于01月15日入账工资5,000.00元。" contact_name="工商银行" />
  <sms protocol="0" address="13800138000" date="1705332845000" type="3" body="草稿：还没发" />
  <sms protocol="0" address="13800138000" date="1705332900000" type="1" body="未转义的 < 符号" />
  <mms date="1705333000000" msg_box="1" address="10690000" contact_name="null" readable_date="2024年1月15日 下午11:36:40"><parts><part seq="-1" ct="application/smil" text="null"/><part seq="0" ct="text/plain" text="上门催收人员已经出发，家里有老人小孩让他们回避"/></parts><addrs><addr address="10690000" type="137" charset="106"/><addr address="insert-address-token" type="151" charset="106"/></addrs></mms>
</smses>
"""


@pytest.fixture(scope="module")
def rules():  # noqa: ANN201
    return load_engine()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------ SMS Backup & Restore XML

def test_sms_xml_received_sent_odd_characters_and_malformed_entries(tmp_path: Path) -> None:
    parsed = parse_sms_xml(write(tmp_path / "sms-20240115.xml", SMS_XML))
    assert [m.direction for m in parsed.messages] == ["received", "sent", "received", "received"]
    first, sent, bank, mms = parsed.messages
    assert first.text == "再不还钱就爆你通讯录 😠 <老赖> & 全家\n第二行"  # surrogate pair repaired, entities decoded
    assert first.number == COLLECTOR and first.number_raw == "+86 138-0013-8000" and first.contact_name is None
    assert first.time == datetime(2024, 1, 15, 15, 31, 5, tzinfo=UTC) and first.time_source == "epoch"
    assert first.line == 5
    assert sent.text.endswith("违法的\ufffd") and sent.contact_name == "催收A"  # &#1; is not XML: replaced
    assert bank.number == "95588"
    assert mms.text.startswith("上门催收人员已经出发") and mms.number == "10690000" and mms.meta["mms"]
    lines = {p.line: p for p in parsed.problems}
    assert sorted(lines) == [7, 9, 10]  # broken quote, draft, unescaped '<'
    assert "格式损坏" in lines[7].reason_zh and "草稿" in lines[9].reason_zh and "malformed" in lines[10].reason_en


def test_sms_xml_refuses_other_xml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="SMS Backup & Restore"):
        parse_sms_xml(write(tmp_path / "other.xml", "<?xml version='1.0'?><contacts><c name='x'/></contacts>"))


def test_surrogate_and_control_references() -> None:
    assert repair_char_refs("&#55357;&#56832;") == "&#128512;"
    assert repair_char_refs("a&#0;b&#xD800;c&#65;") == "a&#xFFFD;b&#xFFFD;c&#65;"


# ------------------------------------------------------------------ SMS CSV

def test_sms_csv_chinese_headers_gbk_and_bad_rows(tmp_path: Path) -> None:
    text = ("号码,联系人,时间,类型,内容,备注列\n"
            "13800138000,,2024-01-15 23:10:00,接收,\"老赖，明天上门找你\",x\n"
            "13800138000,,2024/1/15 23:12,发送,别再打了,\n"
            "13800138000,,昨天,接收,时间坏了,\n"
            "13800138000,,1705332665000,收件箱?,方向坏了,\n"
            "95588,工商银行,1705290000000,1,工资到账,\n")
    parsed = parse_sms_csv(write(tmp_path / "短信导出.csv", text, "gb18030"))
    assert [(m.direction, m.text) for m in parsed.messages] == [
        ("received", "老赖，明天上门找你"), ("sent", "别再打了"), ("received", "工资到账")]
    assert parsed.messages[0].time == datetime(2024, 1, 15, 23, 10)
    assert parsed.messages[2].time.tzinfo is not None and parsed.messages[2].contact_name == "工商银行"
    assert [p.line for p in parsed.problems] == [4, 5]


def test_csv_without_text_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"不是可识别的短信/聊天 CSV：第 1 行表头需要内容列.*实际为 \['a', 'b'\]"):
        parse_sms_csv(write(tmp_path / "x.csv", "a,b\n1,2\n"))


# ------------------------------------------------------------------ chat text exports

QQ_EXPORT = """消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:我的好友
================================================================
消息对象:催收-张三
================================================================

2024-01-15 22:31:05 催收-张三
你再不还钱试试
明天上门找你

2024-01-15 9:05:12 小明
别打了

2024-01-16 23:40:00 催收-张三
爆你通讯录
"""


def test_chat_time_name_shape_qq(tmp_path: Path) -> None:
    parsed = parse_chat_text(write(tmp_path / "qq.txt", "\ufeff" + QQ_EXPORT))
    assert parsed.meta["shape"] == "time_name" and parsed.meta["counterpart"] == "催收-张三"
    assert [(m.direction, m.sender, m.text, m.line) for m in parsed.messages] == [
        ("received", "催收-张三", "你再不还钱试试\n明天上门找你", 9),
        ("sent", "小明", "别打了", 13),
        ("received", "催收-张三", "爆你通讯录", 16),
    ]
    assert parsed.messages[1].time == datetime(2024, 1, 15, 9, 5, 12) and parsed.messages[1].contact_name == "催收-张三"
    assert parsed.problems == []


def test_chat_name_time_shape_with_owner(tmp_path: Path) -> None:
    text = "张三 2024/1/15 22:31:05\n不还钱就去你单位\n\n李四 2024/1/15 22:32\n我会还的\n"
    unknown = parse_chat_text(write(tmp_path / "wx.txt", text))
    assert unknown.meta["shape"] == "name_time" and [m.direction for m in unknown.messages] == [None, None]
    owned = parse_chat_text(tmp_path / "wx.txt", me=["李四"])
    assert [(m.direction, m.contact_name, m.text) for m in owned.messages] == [
        ("received", "张三", "不还钱就去你单位"), ("sent", None, "我会还的")]


def test_chat_one_line_shape(tmp_path: Path) -> None:
    text = ("[2024-01-15 22:31:05] 13800138000：爆你通讯录\n"
            "[2024-01-15 22:32:05] 我: 不要\n接着一行\n"
            "2024年1月16日 下午11:05 13800138000: 老赖\n")
    parsed = parse_chat_text(write(tmp_path / "one.txt", text))
    assert parsed.meta["shape"] == "one_line"
    assert [(m.direction, m.number, m.text) for m in parsed.messages] == [
        ("received", COLLECTOR, "爆你通讯录"), ("sent", None, "不要\n接着一行"), ("received", COLLECTOR, "老赖")]
    assert parsed.messages[2].time == datetime(2024, 1, 16, 23, 5)


@pytest.mark.parametrize("text", [
    "hello world\nthis is a note\n",
    "张三：你好\n李四：在吗\n",  # no times
    "22:31 张三\n你好\n",  # time without a date
    "",
])
def test_unknown_chat_shape_is_a_clear_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "chat.txt", text)
    with pytest.raises(InputError) as err:
        parse_message_file(path)
    message = str(err.value)
    assert message.startswith(str(path)) and "无法识别的聊天记录格式" in message and "\n" not in message


def test_unknown_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01garbage" * 20)
    with pytest.raises(InputError, match="不是可识别的消息文件"):
        parse_message_file(path)


# ------------------------------------------------------------------ times

def test_time_labels() -> None:
    captured = datetime(2024, 1, 17, 9, 0)  # a Wednesday
    assert resolve_label("昨天 22:31", captured) == datetime(2024, 1, 16, 22, 31)
    assert resolve_label("星期一 下午3:05", captured) == datetime(2024, 1, 15, 15, 5)
    assert resolve_label("12月30日 23:00", captured) == datetime(2023, 12, 30, 23, 0)
    assert resolve_label("2024年1月15日 晚上10:31", None) == datetime(2024, 1, 15, 22, 31)
    assert resolve_label("22:31", None) is None
    assert parse_datetime("2024/1/5 7:08") == datetime(2024, 1, 5, 7, 8)
    assert capture_time_from_name("Screenshot_2024-01-15-22-35-10-123_com.tencent.mm.jpg") == datetime(2024, 1, 15, 22, 35, 10)
    assert capture_time_from_name("微信图片_20240115223510.jpg") == datetime(2024, 1, 15, 22, 35, 10)
    assert capture_time_from_name("IMG_1234.PNG") is None


# ------------------------------------------------------------------ rules

def test_conduct_flags_only_on_received_messages(rules) -> None:  # noqa: ANN001
    text = "不还钱就爆你通讯录，让你全家都知道"
    received = Message(0, "sms", "received", text)
    sent = Message(1, "sms", "sent", text)
    unknown = Message(2, "chat", None, text)
    assert {f.category for f in flag_message_text(received, rules)} == {"CONTACTS_BLAST"}
    assert flag_message_text(sent, rules) == []
    assert all(f.speaker_unconfirmed for f in flag_message_text(unknown, rules))
    assert flag_message_text(unknown, rules)


def _log_message(i: int, number: str, when: datetime, direction: str = "received") -> tuple:
    message = Message(i, "sms", direction, "x", number=number)
    message.id = f"m{i}"  # type: ignore[attr-defined]
    message.contact_name = None
    return message, when, "epoch"


def test_message_log_rules_off_hours_and_frequency() -> None:
    day = datetime(2024, 1, 15)
    log = [_log_message(i, COLLECTOR, day.replace(hour=h, minute=m)) for i, (h, m) in
           enumerate([(9, 0), (10, 0), (11, 0), (12, 0), (23, 30)])]
    log += [_log_message(10, "95588", day.replace(hour=23, minute=5)),  # bank notice at night
            _log_message(11, COLLECTOR, datetime(2024, 1, 15, 16, 0, tzinfo=UTC)),  # 00:00 Beijing, next day
            _log_message(12, COLLECTOR, day.replace(hour=23, minute=50), direction="sent")]
    flags = message_log_flags(log, MessageRuleOptions(), suspects={COLLECTOR})
    off = [f for f in flags if f.category == "OFF_HOURS"]
    assert sorted(f.call_ids[0] for f in off) == ["m11", "m4"]
    [freq] = [f for f in flags if f.category == "EXCESS_FREQ"]
    assert freq.call_ids == ["m0", "m1", "m2", "m3", "m4"] and freq.count == 5 and "参照" in freq.description_zh
    everyone = message_log_flags(log, MessageRuleOptions(only_suspect_numbers=False), suspects=set())
    assert "m10" in [f.call_ids[0] for f in everyone if f.category == "OFF_HOURS"]
    window = MessageRuleOptions(off_hours_start=time(21, 0), off_hours_end=time(7, 0), max_messages_per_day=5)
    assert not [f for f in message_log_flags(log, window, {COLLECTOR}) if f.category == "EXCESS_FREQ"]


def test_false_positive_rate_on_everyday_sms(rules) -> None:  # noqa: ANN001
    lines = [line for line in (DATA / "everyday_sms_zh.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) >= 200
    flagged = [(line, [f.category for f in flag_message_text(Message(0, "sms", "received", line), rules)])
               for line in lines]
    false_positives = [(line, cats) for line, cats in flagged if cats]
    rate = len(false_positives) / len(lines)
    print(f"everyday SMS false-positive rate: {len(false_positives)}/{len(lines)} = {rate:.3f}", false_positives)
    assert rate <= 0.02


# ------------------------------------------------------------------ import into a case

@pytest.fixture()
def input_dir(tmp_path: Path) -> Path:
    root = tmp_path / "INPUT"
    write(root / "本人" / "sms-20240115.xml", SMS_XML)
    write(root / "母亲" / "qq.txt", QQ_EXPORT)
    write(root / "同事" / "wx.txt", "张三 2024/1/15 22:31:05\n不还钱就去你单位找你领导\n\n王五 2024/1/15 22:32\n我只是他同事\n")
    write(root / "messages.csv", "file,received_by,me\n同事/wx.txt,同事王五,王五\n")
    write(root / "calls.csv", "file,number\nx.m4a,13800138000\n")
    write(root / "本人" / "readme.txt", "这是说明文件\n")
    (root / "本人" / "call.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    return root


def test_discover_messages(input_dir: Path) -> None:
    found = [p.relative_to(input_dir).as_posix() for p in discover_messages(input_dir)]
    assert found == ["同事/wx.txt", "本人/readme.txt", "本人/sms-20240115.xml", "母亲/qq.txt"]


def test_import_into_case(tmp_path: Path, input_dir: Path, rules) -> None:  # noqa: ANN001
    with open_store(tmp_path / "case") as store:
        report = import_messages(store, discover_messages(input_dir), rules, input_dir)
        by_name = {o.path.name: o for o in report.outcomes}
        assert by_name["readme.txt"].status == "failed" and "无法识别的聊天记录格式" in by_name["readme.txt"].error
        assert by_name["sms-20240115.xml"].received_by == "本人" and by_name["sms-20240115.xml"].messages == 4
        assert len(by_name["sms-20240115.xml"].problems) == 3
        assert by_name["qq.txt"].received_by == "母亲"
        assert by_name["wx.txt"].received_by == "同事王五"  # messages.csv beats the folder name

        flags = store.message_flags(level="text")
        messages = {m.id: m for m in store.messages()}
        assert all(messages[f.message_id].direction != "sent" for f in flags)  # the borrower's reply is not flagged
        wx = [m for m in messages.values() if m.sender in ("张三", "王五")]
        assert {(m.sender, m.direction) for m in wx} == {("张三", "received"), ("王五", "sent")}
        assert {f.category for f in flags if messages[f.message_id].sender == "张三"} >= {"THIRD_PARTY_CONTACT"}
        log = store.message_flags(level="log")
        assert {messages[f.message_id].text for f in log if f.category == "OFF_HOURS"} >= {
            "再不还钱就爆你通讯录 😠 <老赖> & 全家\n第二行"}
        assert not [f for f in log if messages[f.message_id].number == "95588"]
        assert store.verify_message_custody() == [] and store.verify_custody() == []
        out = tmp_path / "case" / "messages" / by_name["qq.txt"].source_id / "messages.json"
        assert '"received_by": "母亲"' in out.read_text(encoding="utf-8")

        # a review decision survives a re-import (parsing reused, flags re-computed in place)
        decided = store.set_message_flag_status(flags[0].id, "accepted", note="属实")
        events = len(store.custody_events())
        again = import_messages(store, discover_messages(input_dir), rules, input_dir)
        assert {o.path.name: o.status for o in again.outcomes}["qq.txt"] == "reused"
        kept = store.get_message_flag(decided.id)
        assert (kept.status, kept.note, kept.stale) == ("accepted", "属实", False)
        assert not [e for e in store.custody_events()[events:] if e.action == "intake"]


def test_add_messages_cli(tmp_path: Path, input_dir: Path) -> None:
    from pipeline.commands.messages_cmd import add_messages_command as cli

    runner = CliRunner()
    files = [str(input_dir / "本人" / "sms-20240115.xml"), str(input_dir / "母亲" / "qq.txt")]
    result = runner.invoke(cli, [str(tmp_path / "case"), *files, "--received-by", "本人"])
    assert result.exit_code == 0, result.output
    assert "消息导入结果" in result.output and "格式损坏" in result.output
    with open_store(tmp_path / "case") as store:
        assert {s.received_by for s in store.message_sources()} == {"本人"}
    bad = runner.invoke(cli, [str(tmp_path / "case"), str(input_dir / "本人" / "readme.txt")])
    assert bad.exit_code == 1 and "失败" in bad.output
    copy = str(shutil.copy(input_dir / "母亲" / "qq.txt", tmp_path / "copy.txt"))
    late = runner.invoke(cli, [str(tmp_path / "case"), copy, "--off-hours", "late"])
    assert late.exit_code == 2, late.output


def test_moving_a_file_to_another_person_follows(tmp_path: Path, input_dir: Path, rules) -> None:  # noqa: ANN001
    with open_store(tmp_path / "case") as store:
        import_messages(store, [input_dir / "母亲" / "qq.txt"], rules, input_dir)
        moved = input_dir / "父亲" / "qq.txt"
        moved.parent.mkdir()
        (input_dir / "母亲" / "qq.txt").rename(moved)
        [outcome] = import_messages(store, [moved], rules, input_dir).outcomes
        assert (outcome.status, outcome.received_by) == ("reused", "父亲")
        assert {m.received_by for m in store.messages()} == {"父亲"}
        assert [e.action for e in store.custody_events()].count("relocate") == 1
