"""Message exports in the shapes real phones and apps write, with invented people and numbers.

Each ``Fixture`` writes its file(s) into a folder and knows how many entries the file holds, how
many of them carry text (and should be imported), and which planted collector threats must be
flagged. Used by tests/test_message_formats.py and bench/eval_messages.py. Shapes follow the
published formats of: QQ "导出消息记录" (text and MHT, with a 12-hour clock on an English system),
WeChat for PC copy-paste, SMS Backup & Restore XML (MMS to e-mail, group MMS, drafts, a cut file),
iMazing and PhoneView CSV (iOS), 留痕/WeChatMsg CSV, Android mmssms.db / HarmonyOS-style SMS
tables and the iOS sms.db.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

COLLECTOR = "13800138000"
COLLECTOR_2 = "13900139000"
THREATS = {
    "blast": "再不还钱就爆你通讯录，让你全家都知道你是老赖",
    "visit": "明天我们上门去你单位找你领导",
    "expose": "你儿子欠钱不还，我们会把他欠钱的事发到朋友圈曝光",
    "violence": "今晚不还钱，你家里人都别想好过",
    "contacts": "已经联系了你的同事和亲戚，让他们帮你还",
}
REPLY = "我这个月底一定还，请不要再打扰我家人"
HARMLESS = "记得带伞"


@dataclass
class Fixture:
    name: str  # format label in the benchmark
    files: dict[str, bytes]  # relative path -> content (the first one is the file measured)
    entries: int  # entries in the measured file (messages, drafts, images, system rows…)
    texts: int  # entries with text that should be imported
    planted: list[str]  # collector threats (received) that must be flagged
    timed: int | None = None  # imported messages that should carry a time (default: all)
    notes: list[str] = field(default_factory=list)

    @property
    def main(self) -> str:
        return next(iter(self.files))

    def write(self, folder: Path) -> Path:
        for relative, content in self.files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return folder / self.main


QQ_PREAMBLE = """消息记录（此消息记录为文本格式，不支持重新导入）

================================================================
消息分组:{folder}
================================================================
消息对象:{who}
================================================================

"""

# QQ on an English-language Windows: the period follows the clock (and must not end up in the name)
QQ_12H = QQ_PREAMBLE.format(folder="我的好友", who="催收-赵六") + f"""2019-09-23 8:43:38 PM 催收-赵六
{THREATS['blast']}

2019-09-23 8:50:02 PM 小明
{REPLY}

2019-09-24 12:12:29 AM 催收-赵六
{THREATS['violence']}

2019-09-24 12:30:00 PM 催收-赵六
{HARMLESS}
"""

# a QQ group export: the owner (小明, QQ 10001) is one member among several
QQ_GROUP = QQ_PREAMBLE.format(folder="我的QQ群", who="小明的同学群") + f"""2019-09-25 21:05:11 催收专员(20002)
{THREATS['expose']}

2019-09-25 21:06:40 老同学甲(30003)
这是谁啊

2019-09-25 21:07:02 小明(10001)
{REPLY}

2019-09-25 21:10:15 催收专员(20002)
{THREATS['contacts']}
"""
QQ_PRIVATE_BESIDE = QQ_PREAMBLE.format(folder="我的好友", who="老同学甲") + """2019-09-20 10:00:00 老同学甲
周末聚会吗

2019-09-20 10:01:00 小明
好的
"""

# WeChat for PC on an English system: "<name> <date> <h:mm AM/PM>" then the message
WECHAT_PC = f"""催收小王 2023/09/16 9:51 PM
{THREATS['visit']}

女朋友 2023/09/16 10:02 PM
别理他们

我 2023/09/16 10:03 PM
{REPLY}
"""

SMS_XML = f"""<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002-->
<smses count="9" backup_set="a1b2" backup_date="1705336800000" type="full">
  <sms protocol="0" address="{COLLECTOR}" date="1705332665000" type="1" body="{THREATS['blast']}&#10;&#55357;&#56864;&#55357;&#56864;" readable_date="Jan 15, 2024 11:31:05 PM" contact_name="(Unknown)" />
  <sms protocol="0" address="{COLLECTOR}" date="1705332725000" type="2" body="{REPLY}" contact_name="(Unknown)" />
  <sms protocol="0" address="{COLLECTOR}" date="1705332745000" type="3" body="草稿，还没发" />
  <mms date="1705333000000" msg_box="2" address="someone@example.org" m_type="128"><parts><part seq="0" ct="text/plain" text="请看附件里的还款记录"/></parts><addrs><addr address="insert-address-token" type="137" charset="106"/><addr address="someone@example.org" type="151" charset="106"/></addrs></mms>
  <mms date="1705333100000" msg_box="1" address="{COLLECTOR_2}~13712340001~13712340002" m_type="132"><parts><part seq="0" ct="text/plain" text="{THREATS['contacts']}"/></parts><addrs><addr address="{COLLECTOR_2}" type="137" charset="106"/><addr address="13712340001" type="151" charset="106"/><addr address="13712340002" type="151" charset="106"/></addrs></mms>
  <mms date="1705333200000" msg_box="2" address="13712340001~13712340002" m_type="128"><parts><part seq="0" ct="text/plain" text="大家别理这个号码"/></parts><addrs><addr address="insert-address-token" type="137" charset="106"/><addr address="13712340001" type="151" charset="106"/><addr address="13712340002" type="151" charset="106"/></addrs></mms>
  <sms protocol="0" address="{COLLECTOR}" date="1705333300000" type="1" body="{THREATS['visit']}" />
"""  # cut: 7 of the declared 9 entries, no closing </smses>

IMAZING_CSV = f"""Chat Session,Message Date,Delivered Date,Read Date,Edited Date,Service,Type,Sender ID,Sender Name,Status,Replying to,Subject,Text,Attachment,Attachment type
催收李,2024-01-15 23:05:00,,,,SMS,Incoming,+86 {COLLECTOR},催收李,Read,,,{THREATS['blast']},,
催收李,2024-01-15 23:06:10,2024-01-15 23:06:11,,,SMS,Outgoing,,,Delivered,,,{REPLY},,
催收李,2024-01-15 23:07:00,,,,SMS,Notification,,,,,,This message was deleted,,
催收李,2024-01-16 08:30:00,,,,SMS,Incoming,+86 {COLLECTOR},催收李,Read,,,"{THREATS['visit']}
（第二行）",,
"""

PHONEVIEW_CSV = f""""direction","timestamp","name","number","content","type"
Received,"Jan 16, 2024 11:40:12 PM","{COLLECTOR_2}","{COLLECTOR_2}","{THREATS['violence']}","SMS"
Sent,"Jan 16, 2024 11:41:00 PM","{COLLECTOR_2}","{COLLECTOR_2}","{REPLY}","SMS"
"""

WECHATMSG_CSV = f"""localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender
101,7,1,0,0,1705332665,,{THREATS['expose']},2024-01-15 23:31:05,催收-阿强,阿强,wxid_collector01
102,7,1,0,1,1705332700,,{REPLY},2024-01-15 23:31:40,催收-阿强,阿强,wxid_collector01
103,7,3,0,0,1705332760,,"<msg><img length=""1234""/></msg>",2024-01-15 23:32:40,催收-阿强,阿强,wxid_collector01
104,7,10000,0,0,1705332800,,你撤回了一条消息,2024-01-15 23:33:20,催收-阿强,阿强,wxid_collector01
"""


def _android_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sms (_id INTEGER PRIMARY KEY, thread_id INTEGER, address TEXT, person INTEGER, "
                 "date INTEGER, date_sent INTEGER, read INTEGER, status INTEGER, type INTEGER, body TEXT, "
                 "service_center TEXT)")
    rows = [(1, COLLECTOR, 1705332665000, 1, THREATS["blast"]), (1, COLLECTOR, 1705332725000, 2, REPLY),
            (1, COLLECTOR, 1705332745000, 3, "草稿"), (2, "95588", 1705290000000, 1, "【工商银行】您的账户入账工资"),
            (1, COLLECTOR, 1705370400000, 1, THREATS["violence"])]
    conn.executemany("INSERT INTO sms (thread_id, address, date, type, body) VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def _harmony_db(path: Path) -> None:
    """A HarmonyOS/Huawei-style backup table: same columns as Android's, another table name."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sms_tb (address TEXT, body TEXT, date INTEGER, type INTEGER, read INTEGER)")
    conn.executemany("INSERT INTO sms_tb VALUES (?, ?, ?, ?, 1)",
                     [(f"+86{COLLECTOR_2}", THREATS["contacts"], 1705332665000, 1), (COLLECTOR_2, REPLY, 1705332725000, 2)])
    conn.commit()
    conn.close()


def attributed_body(text: str) -> bytes:
    """An iOS 16+ attributedBody (typedstream) holding ``text``, as Messages writes it."""
    data = text.encode("utf-8")
    length = bytes([len(data)]) if len(data) < 0x80 else b"\x81" + len(data).to_bytes(2, "little")
    return (b"\x04\x0bstreamtyped\x81\xe8\x03\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject"
            b"\x00\x85\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+" + length + data + b"\x86\x84\x02iI\x01")


def _ios_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT, service TEXT);
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, attributedBody BLOB, handle_id INTEGER,
                              service TEXT, date INTEGER, is_from_me INTEGER, item_type INTEGER DEFAULT 0);
        CREATE TABLE chat (ROWID INTEGER PRIMARY KEY, chat_identifier TEXT);
        CREATE TABLE chat_message_join (chat_id INTEGER, message_id INTEGER);
    """)
    conn.execute("INSERT INTO handle VALUES (1, ?, 'SMS')", (f"+86{COLLECTOR}",))
    conn.execute("INSERT INTO chat VALUES (1, ?)", (f"+86{COLLECTOR}",))
    ns = 1_000_000_000
    # 2024-01-15 23:31:05 Beijing = 2024-01-15 15:31:05 UTC = 727025465 s after 2001-01-01
    rows = [(1, THREATS["visit"], None, 1, 727025465 * ns, 0, 0),
            (2, None, attributed_body(THREATS["blast"]), 1, 727025525 * ns, 0, 0),
            (3, REPLY, None, 1, 727025585 * ns, 1, 0),
            (4, "\ufffc", None, 1, 727025645 * ns, 0, 0),  # a picture only
            (5, None, None, 1, 727025705 * ns, 0, 2)]  # a group-rename event
    conn.executemany("INSERT INTO message (ROWID, text, attributedBody, handle_id, date, is_from_me, item_type, service)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, 'SMS')", rows)
    conn.executemany("INSERT INTO chat_message_join VALUES (1, ?)", [(r[0],) for r in rows])
    conn.commit()
    conn.close()


def _db(builder: Callable[[Path], None], tmp: Path) -> bytes:
    tmp.unlink(missing_ok=True)
    builder(tmp)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _mht_row(colour: str, name: str, clock: str, body: str) -> str:
    return (f"<tr><td><div style=color:{colour};padding-left:10px;><div style=float:left;margin-right:6px;>{name}</div>"
            f"{clock}</div><div style=padding-left:20px;><font style=\"font-size:10pt;font-family:'宋体','MS Sans Serif',"
            f"sans-serif;\" color='000000'>{body}</font></div></td></tr>\n")


def qq_mht(folder: str, who: str, rows: list[tuple[str, str, str, str]], day: str = "2019-09-23") -> bytes:
    """A QQ "网页格式" export: rows are (colour, name, clock, html body)."""
    date_row = ("<tr><td style=border-bottom-width:1px;border-bottom-color:#8EC3EB;border-bottom-style:solid;"
                f"color:#3568BB;font-weight:bold;height:24px;line-height:24px;padding-left:10px;>日期: {day}</td></tr>\n")
    html = ("<html xmlns=\"http://www.w3.org/1999/xhtml\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
            "charset=UTF-8\" /><title>QQ Message</title></head><body><table width=100% cellspacing=0>\n"
            "<tr><td><div style=padding-left:10px;><b>消息记录</b>（此消息记录为网页格式，不支持重新导入）<br></div></td></tr>\n"
            f"<tr><td><div style=padding-left:10px;><b>消息分组:{folder}</b></div></td></tr>\n"
            f"<tr><td><div style=padding-left:10px;>消息对象:{who}</div></td></tr>\n" + date_row
            + "".join(_mht_row(*r) for r in rows) + "</table></body></html>")
    boundary = "----=_NextPart_01D5A0C2.6A3B2F10"
    return (f'MIME-Version: 1.0\r\nContent-Type:multipart/related;charset="utf-8";type="text/html";'
            f'boundary="{boundary}"\r\n\r\n--{boundary}\r\nContent-Type:text/html\r\nContent-Transfer-Encoding:7bit\r\n\r\n'
            f"{html}\r\n\r\n--{boundary}--\r\n").encode()


BLUE, GREEN = "#006EFE", "#42B475"
QQ_MHT_GROUP = qq_mht("我的QQ群", "小明的同学群", [
    (GREEN, "催收专员(20002)", "8:43:38 PM", THREATS["expose"]),  # first of the day: QQ's colour may be wrong
    (BLUE, "老同学甲(30003)", "8:44:00 PM", "这是谁啊<br>怎么回事"),
    (GREEN, "小明(10001)", "8:45:10 PM", REPLY),
    (BLUE, "催收专员(20002)", "8:46:00 PM", THREATS["contacts"] + "<IMG src=\"{3D48C238}.dat\">"),
    (GREEN, "小明(10001)", "8:47:00 PM", "请大家不要理会"),
])


def fixtures(tmp: Path) -> list[Fixture]:
    """Every format, its file(s) as bytes; ``tmp`` is a scratch folder for building the databases."""
    tmp.mkdir(parents=True, exist_ok=True)
    return [
        Fixture("QQ TXT 12 小时制", {"qq_12h.txt": QQ_12H.encode()}, 4, 4, [THREATS["blast"], THREATS["violence"]]),
        Fixture("QQ TXT 群聊（本人由私聊推断）", {"qq/同学群.txt": QQ_GROUP.encode(),
                                          "qq/老同学甲.txt": QQ_PRIVATE_BESIDE.encode()}, 4, 4,
                [THREATS["expose"], THREATS["contacts"]]),
        Fixture("QQ MHT 群聊", {"qq_group.mht": QQ_MHT_GROUP}, 5, 5, [THREATS["expose"], THREATS["contacts"]]),
        Fixture("微信 PC 复制（AM/PM）", {"wechat_pc.txt": WECHAT_PC.encode()}, 3, 3, [THREATS["visit"]]),
        Fixture("微信 留痕 CSV", {"wechatmsg.csv": WECHATMSG_CSV.encode("utf-8-sig")}, 4, 2, [THREATS["expose"]]),
        Fixture("短信备份 XML（彩信/群发/草稿/截断）", {"sms-20240115.xml": SMS_XML.encode()}, 7, 6,
                [THREATS["blast"], THREATS["contacts"], THREATS["visit"]]),
        Fixture("iOS iMazing CSV", {"Messages - 催收李.csv": IMAZING_CSV.encode("utf-8-sig")}, 4, 3,
                [THREATS["blast"], THREATS["visit"] + "\n（第二行）"]),
        Fixture("iOS PhoneView CSV", {"phoneview.csv": PHONEVIEW_CSV.encode()}, 2, 2, [THREATS["violence"]]),
        Fixture("iOS sms.db", {"3d0d7e5fb2ce288813306e4d4636395e047a3d28": _db(_ios_db, tmp / "ios.db")}, 5, 3,
                [THREATS["visit"], THREATS["blast"]]),
        Fixture("Android mmssms.db", {"mmssms.db": _db(_android_db, tmp / "android.db")}, 5, 4,
                [THREATS["blast"], THREATS["violence"]]),
        Fixture("鸿蒙/华为式 sms.db", {"sms.db": _db(_harmony_db, tmp / "harmony.db")}, 2, 2, [THREATS["contacts"]]),
    ]
