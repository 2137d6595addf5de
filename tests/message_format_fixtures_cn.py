"""More export shapes Chinese users have (issue 14, second round), invented people and numbers.

Shapes follow the published output of: QQChatExporter (shuakami/qq-chat-exporter, JSON and TXT:
its Rust ``json_exporter`` / ``text_exporter``), 留痕 / WeChatMsg HTML (LC044/WeChatMsg
``exporter_html.py`` + ``template.html``), WechatExporter TXT / HTML (BlueMatthew/WechatExporter
``res/templates_txt`` and ``res/templates``), vMessage SMS (Huawei / MediaTek "导出到存储卡" as
documented by vmsg2csv, and the IrMC / Nokia ``.vmg``), and Android backups (``adb backup``
header + AOSP ``000000_sms_backup``, with and without the MIUI header in front). Used by
tests/test_messages_cn_formats.py and bench/eval_messages.py.
"""

from __future__ import annotations

import io
import json
import tarfile
import zlib
from pathlib import Path

from message_format_fixtures import COLLECTOR, COLLECTOR_2, HARMLESS, REPLY, THREATS, Fixture

# 2024-01-15 22:31:05 Beijing = 1705329065 epoch seconds
T0 = 1705329065

QCE_JSON = {
    "metadata": {"name": "QQChatExporter", "copyright": "https://github.com/shuakami/qq-chat-exporter", "version": "5.0.0"},
    "chatInfo": {"name": "催收-赵六", "type": "private", "selfUid": "u_self", "selfUin": "10001", "selfName": "小明",
                 "peerUid": "u_peer", "peerUin": "20002"},
    "statistics": {"totalMessages": 6},
    "messages": [
        {"id": "1", "seq": "1", "timestamp": T0 * 1000, "time": "2024-01-15 22:31:05",
         "sender": {"uid": "u_peer", "uin": "20002", "name": "催收-赵六"}, "type": "type_1",
         "content": {"text": THREATS["blast"], "elements": [], "resources": [], "mentions": []},
         "recalled": False, "system": False},
        {"id": "2", "seq": "2", "timestamp": (T0 + 60) * 1000, "time": "2024-01-15 22:32:05",
         "sender": {"uid": "u_self", "uin": "10001", "name": "小明"}, "type": "type_1",
         "content": {"text": REPLY, "elements": [], "resources": [], "mentions": []}, "recalled": False, "system": False},
        {"id": "3", "seq": "3", "timestamp": (T0 + 120) * 1000, "time": "2024-01-15 22:33:05",
         "sender": {"uid": "u_peer", "uin": "20002", "name": "催收-赵六"}, "type": "type_3",
         "content": {"text": "", "resources": [{"type": "image", "filename": "a.jpg"}]}, "recalled": False, "system": False},
        {"id": "4", "seq": "4", "timestamp": (T0 + 180) * 1000, "time": "2024-01-15 22:34:05",
         "sender": {"uid": "", "uin": "", "name": "系统"}, "type": "type_5",
         "content": {"text": "催收-赵六撤回了一条消息"}, "recalled": False, "system": True},
        {"id": "5", "seq": "5", "timestamp": (T0 + 240) * 1000, "time": "2024-01-15 22:35:05",
         "sender": {"uid": "u_peer", "uin": "20002", "name": "催收-赵六"}, "type": "type_1",
         "content": {"text": THREATS["violence"]}, "recalled": True, "system": False},
        {"id": "6", "seq": "6", "timestamp": (T0 + 40000) * 1000, "time": "2024-01-16 09:37:45",
         "sender": {"uid": "u_peer", "uin": "20002", "name": "催收-赵六"}, "type": "type_1",
         "content": {"text": HARMLESS}, "recalled": False, "system": False},
    ],
}

# a 4.x group export: ISO timestamps, the owner known only by selfUin
QCE_JSON_GROUP = {
    "metadata": {"name": "QQChatExporter V4", "version": "4.2.0"},
    "chatInfo": {"name": "小明的同学群", "type": "group", "selfUin": "10001"},
    "messages": [
        {"id": "1", "timestamp": "2024-01-15T14:31:05.000Z", "sender": {"uid": "u_c", "uin": "20002", "name": "催收专员"},
         "type": "type_1", "content": {"text": THREATS["expose"]}},
        {"id": "2", "timestamp": "2024-01-15T14:32:00.000Z", "sender": {"uid": "u_a", "uin": "30003", "name": "老同学甲"},
         "type": "type_1", "content": {"text": "这是谁啊"}},
        {"id": "3", "timestamp": "2024-01-15T14:33:00.000Z", "sender": {"uid": "u_self", "uin": "10001", "name": "小明"},
         "type": "type_1", "content": {"text": REPLY}},
        {"id": "4", "timestamp": "2024-01-15T14:35:00.000Z", "sender": {"uid": "u_c", "uin": "20002", "name": "催收专员"},
         "type": "type_1", "content": {"text": THREATS["contacts"]}},
    ],
}

QCE_TXT = f"""[QQChatExporter V5 / https://github.com/shuakami/qq-chat-exporter]
[本软件是免费的开源项目~ 如果您是买来的，请立即退款！如果有帮助到您，欢迎给我点个Star~]

===============================================
           QQ聊天记录导出文件
===============================================

聊天名称: 催收-赵六
聊天类型: 私聊
导出时间: 2024-01-20 10:00:00
消息总数: 5
时间范围: 2024-01-15 22:31:05 - 2024-01-16 23:40:00


催收-赵六:
时间: 2024-01-15 22:31:05
内容: {THREATS['visit']}
第二行：不接电话就等着

小明:
时间: 2024-01-15 22:32:10
内容: {REPLY}

催收-赵六:
时间: 2024-01-15 22:33:00
内容: [图片消息]
资源: 1 个文件
  - image: 1.jpg

催收-赵六:
时间: 2024-01-16 23:40:00
内容: {THREATS['blast']}
回复: 01-15 22:32 小明 - {REPLY}

[管理员] 催收-赵六:
时间: 2024-01-16 23:41:00
内容: {HARMLESS}

===============================================
              导出完成
===============================================
总计导出 5 条消息
导出时间: 2024-01-20 10:00:00
"""


def _js(text: str) -> str:
    """As 留痕 writes a string into its page: HTML-escaped, then JavaScript-escaped."""
    from html import escape
    return escape(text, quote=False).replace("\\", "\\\\").replace("'", r"\'").replace('"', r'\"').replace("\n", r"\n")


MEMOTRACE_HTML = ("""<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>催收-阿强</title>
<style>""" + "body{margin:0}\n" * 2000 + """</style></head><body>
<div class="title" id="title"><p id="title">催收-阿强</p></div>
<div id="chat-container" class="chat-container"></div>
<script>
const chatMessages = [
""" + f"""{{ type:1, text: '{_js(THREATS['expose'] + chr(10) + "截图都给你存好了 <别删>")}',is_send:0,avatar_path:'./avatar/wxid_c.png',timestamp:{T0},is_chatroom:0,displayname:'催收-阿强'}},"""
    + f"""{{ type:1, text: '{_js(REPLY)}',is_send:1,avatar_path:'./avatar/me.png',timestamp:{T0 + 35},is_chatroom:0,displayname:'小明'}},"""
    + f"""{{ type:3, text: './image/2024-01/a.jpg',is_send:0,avatar_path:'./avatar/wxid_c.png',timestamp:{T0 + 95},is_chatroom:0,displayname:'催收-阿强'}},"""
    + f"""{{ type:0, text: '你撤回了一条消息',is_send:1,avatar_path:'',timestamp:{T0 + 135},is_chatroom:0,displayname:''}},"""
    + f"""{{ type:49, text: '{_js(THREATS['visit'])}',is_send:0,sub_type:57,refer_text: '{_js("小明：" + REPLY)}',avatar_path:'./avatar/wxid_c.png',timestamp:{T0 + 200},is_chatroom:0,displayname:'催收-阿强'}},"""
    + f"""{{ type:34, text:'./voice/1.mp3',is_send:0,avatar_path:'./avatar/wxid_c.png',voice_to_text:'',timestamp:{T0 + 260},is_chatroom:0,displayname:'催收-阿强'}},"""
    + """
];

</script>
<script>
const itemsPerPage = 100;
</script></body></html>
""")

WECHAT_EXPORTER_TXT = f"""催收小王 - 微信聊天记录

催收小王 (2024-01-15 22:31:05):{THREATS['contacts']}
催收小王 (2024-01-15 22:31:40):[图片]
小明 (2024-01-15 22:33:00):{REPLY}
催收小王 (2024-01-15 23:50:12):{THREATS['violence']}
还有你老婆的电话我们也有
System Message: "催收小王"撤回了一条消息
催收小王 (2024-01-16 08:02:00):{HARMLESS}
"""


def _wx_msg(align: str, wxid: str, name: str, when: str, body: str) -> str:
    return (f'\t\t\t\t<div class="msg chat {align} " msgid="1" msgtype="1">\n\t\t\t\t\t<div class="avatar-box">'
            f'<img src="Portrait/{wxid}.jpg" class="avatar"></div>\n\t\t\t\t\t<div class="nt-box"><span class="dspname '
            f'{align}" wxId="{wxid}">{name}</span> {when}</div>\n\t\t\t\t\t<div class="content-box"><div class="triangle">'
            f'</div>\n\t\t\t\t\t\t<span class="dont-break-out msg-text"><pre>{body}</pre></span>\n\t\t\t\t\t</div>\n'
            "\t\t\t\t</div>\n")


WECHAT_EXPORTER_HTML = ("""<!doctype html>
<html><head><meta charset="utf-8"><style type=text/css>body{background-color:#c4c4c4;}</style>
<title>催收小王 - 微信聊天记录</title></head>
<body uid="wxid_me01" sid="wxid_collector02"><div class="main"><div class="header"><span class="sname">催收小王</span></div>
""" + _wx_msg("left", "wxid_collector02", "催收小王", "2024-01-15 22:31:05", THREATS["blast"] + "&lt;最后通知&gt;")
    + '\t\t\t\t<div class="msg media left " msgid="2" msgtype="3"><div class="avatar-box"><img src="a.jpg" class="avatar" />'
    '</div><div class="nt-box"><span class="dspname left" wxId="wxid_collector02">催收小王</span> 2024-01-15 22:31:30</div>'
    '<div class="content-box"><img rawUrl="a.jpg" class="lazyload image" /></div></div>\n'
    + _wx_msg("right", "wxid_me01", "小明", "2024-01-15 22:32:00", REPLY)
    + '\t\t\t\t<div class="msg chat-notice " msgid="4"><span class="dont-break-out">System Message: 你撤回了一条消息</span></div>\n'
    + _wx_msg("left", "wxid_collector02", "催收小王", "2024-01-16 07:10:00", THREATS["expose"])
    + "</div></body></html>\n")


def _qp(text: str) -> str:
    """Quoted-printable as Huawei writes it: every byte =XX, soft breaks (``=``) every 75 characters."""
    encoded = "".join(f"={b:02X}" for b in text.encode("utf-8"))
    return "=\r\n".join(encoded[i:i + 72] for i in range(0, len(encoded), 72))


def _huawei(kind: str, tel: str, when: str, text: str) -> str:
    return (f"BEGIN:VMSG\r\nVERSION:1.1\r\nX-IRMS-TYPE:MSG\r\nX-MESSAGE-TYPE:{kind}\r\nX-MESSAGE-STATUS:READ\r\n"
            f"X-MESSAGE-SLOT:0\r\nX-MESSAGE-LOCKED:UNLOCKED\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nTEL:{tel}\r\nEND:VCARD\r\n"
            f"BEGIN:VBODY\r\nDate:{when} GMT\r\nSubject;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:{_qp(text)}\r\n"
            "END:VBODY\r\nEND:VMSG\r\n")


HUAWEI_VMSG = (_huawei("DELIVER", f"+86{COLLECTOR}", "2024/01/15 22:31:05", THREATS["blast"] + "\n" + THREATS["visit"])
               + _huawei("SUBMIT", f"+86{COLLECTOR}", "2024/01/15 22:33:00", REPLY)
               + _huawei("DELIVER", "95588", "2024/01/15 09:00:00", "【工商银行】您尾号1234的账户入账工资")
               + _huawei("DELIVER", COLLECTOR_2, "2024/01/16 23:05:00", THREATS["contacts"]))

NOKIA_VMG = f"""BEGIN:VMSG
VERSION:1.1
X-IRMC-STATUS:READ
X-IRMC-BOX:INBOX
X-MESSAGE-TYPE:DELIVER
BEGIN:VCARD
VERSION:3.0
N:
TEL:+86{COLLECTOR_2}
END:VCARD
BEGIN:VENV
BEGIN:VBODY
Date:16.01.2024 23:40:12
{THREATS['violence']}
END:VBODY
END:VENV
END:VMSG
BEGIN:VMSG
VERSION:1.1
X-IRMC-STATUS:READ
X-IRMC-BOX:DRAFT
BEGIN:VCARD
VERSION:3.0
N:
TEL:{COLLECTOR_2}
END:VCARD
BEGIN:VENV
BEGIN:VBODY
Date:16.01.2024 23:45:00
还没写完的草稿
END:VBODY
END:VENV
END:VMSG
BEGIN:VMSG
VERSION:1.1
X-IRMC-STATUS:READ
X-IRMC-BOX:SENT
X-MESSAGE-TYPE:SUBMIT
BEGIN:VCARD
VERSION:3.0
N:
TEL:{COLLECTOR_2}
END:VCARD
BEGIN:VENV
BEGIN:VBODY
Date:16.01.2024 23:46:30
{REPLY}
END:VBODY
END:VENV
END:VMSG
"""

TELEPHONY_ROWS = [
    {"self_phone": "13700000000", "address": COLLECTOR, "type": 1, "date": (T0 + 600) * 1000, "date_sent": (T0 + 598) * 1000,
     "status": -1, "read": 1, "body": THREATS["visit"]},
    {"self_phone": "13700000000", "address": COLLECTOR, "type": 2, "date": (T0 + 660) * 1000, "date_sent": 0,
     "status": -1, "read": 1, "body": REPLY},
    {"self_phone": "13700000000", "address": COLLECTOR, "type": 3, "date": (T0 + 700) * 1000, "date_sent": 0,
     "status": -1, "read": 1, "body": "草稿"},
    {"self_phone": "13700000000", "address": COLLECTOR_2, "type": 1, "date": (T0 + 90000) * 1000,
     "date_sent": (T0 + 89990) * 1000, "status": -1, "read": 1, "body": THREATS["expose"]},
]


def _tar(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), T0
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def android_backup(members: dict[str, bytes], *, miui: bool = False, encryption: str = "none") -> bytes:
    """An ``adb backup`` file (optionally behind the MIUI header) holding ``members``."""
    header = b"ANDROID BACKUP\n5\n1\n" + encryption.encode() + b"\n"
    if encryption != "none":  # the salts, rounds and key blob lines; then ciphertext we cannot read
        body = b"0123456789ABCDEF\nFEDCBA9876543210\n10000\n00112233445566778899AABBCCDDEEFF\nABCDEF\n" + bytes(range(256))
    else:
        body = zlib.compress(_tar(members))
    front = b"MIUI BAK\n2\ncom.android.mms\n\xe7\x9f\xad\xe4\xbf\xa1\n-1\n0\n" if miui else b""
    return front + header + body


SMS_BACKUP_MEMBER = "apps/com.android.providers.telephony/d_f/000000_sms_backup"


def fixtures(tmp: Path) -> list[Fixture]:
    tmp.mkdir(parents=True, exist_ok=True)
    telephony = zlib.compress(json.dumps(TELEPHONY_ROWS, ensure_ascii=False).encode())
    return [
        Fixture("QQChatExporter JSON 私聊", {"qce/催收-赵六.json": json.dumps(QCE_JSON, ensure_ascii=False, indent=2).encode()},
                6, 4, [THREATS["blast"], THREATS["violence"]]),
        Fixture("QQChatExporter JSON 群聊（4.x）", {"qce/同学群.json": json.dumps(QCE_JSON_GROUP, ensure_ascii=False).encode()},
                4, 4, [THREATS["expose"], THREATS["contacts"]]),
        Fixture("QQChatExporter TXT", {"qce/催收-赵六.txt": QCE_TXT.encode()}, 5, 4,
                [THREATS["visit"] + "\n第二行：不接电话就等着", THREATS["blast"]]),
        Fixture("微信 留痕 HTML", {"留痕/催收-阿强.html": MEMOTRACE_HTML.encode()}, 6, 3,
                [THREATS["expose"] + "\n截图都给你存好了 <别删>", THREATS["visit"]]),
        Fixture("微信 WechatExporter TXT", {"wechatexporter/催收小王.txt": WECHAT_EXPORTER_TXT.encode()}, 6, 4,
                [THREATS["contacts"], THREATS["violence"] + "\n还有你老婆的电话我们也有"]),
        Fixture("微信 WechatExporter HTML", {"wechatexporter/催收小王.html": WECHAT_EXPORTER_HTML.encode()}, 5, 3,
                [THREATS["blast"] + "<最后通知>", THREATS["expose"]]),
        Fixture("华为/联发科 vmsg 短信", {"sms.vmsg": HUAWEI_VMSG.encode()}, 4, 4,
                [THREATS["blast"] + "\n" + THREATS["visit"], THREATS["contacts"]]),
        Fixture("诺基亚式 vmg 短信（含草稿）", {"nokia.vmg": NOKIA_VMG.encode()}, 3, 2, [THREATS["violence"]]),
        Fixture("Android adb 备份 .ab（未加密）", {"backup.ab": android_backup({SMS_BACKUP_MEMBER: telephony})}, 4, 3,
                [THREATS["visit"], THREATS["expose"]]),
        Fixture("小米 .bak（MIUI 头 + 未加密 Android 备份）",
                {"短信(com.android.mms).bak": android_backup({SMS_BACKUP_MEMBER: telephony}, miui=True)}, 4, 3,
                [THREATS["visit"], THREATS["expose"]]),
    ]
