"""Android backups: ``adb backup`` files (``.ab``) and the Xiaomi (MIUI) backup ``.bak``, which is an
Android backup with a MIUI header in front::

    MIUI BAK                    (or MIUI BACKUP; then a few lines: version, package, app name …)
    ANDROID BACKUP
    5                           format version
    1                           1 = zlib-compressed
    none                        encryption: none, or AES-256 when a backup password was set
    <tar archive>

An encrypted backup (a backup password) cannot be read: it is refused in one line with what to
do instead. A plain one is opened in memory (nothing is written beside the original) and every
SMS file inside is read: Android's own SMS backup (``apps/com.android.providers.telephony/d_f/
000000_sms_backup``: zlib-compressed JSON, one object per SMS with ``address``, ``date`` (epoch
ms), ``type`` (1 received, 2 sent; without it, a non-zero ``date_sent`` means received), ``body``),
an SMS Backup & Restore XML, a vMessage file, or an
SQLite SMS database. A backup with none of these is refused naming what it holds.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_bytes
from pipeline.messages.sms_db import SQLITE_MAGIC, parse_sms_db, sms_db_kind
from pipeline.messages.sms_xml import looks_like_sms_xml, parse_sms_xml
from pipeline.messages.times import parse_epoch
from pipeline.messages.vmsg import parse_vmsg

ANDROID_MAGIC = b"ANDROID BACKUP\n"
_MIUI_MAGIC = b"MIUI BAK"
_MAX_HEADER = 4096
_MAX_TAR = 512 * 1024 * 1024  # decompressed size read at most
_INSTEAD = "请在手机上用“SMS Backup & Restore”导出短信 XML（或用手机助手导出 CSV）后导入"


def looks_like_android_backup(head: bytes) -> bool:
    return head.startswith((ANDROID_MAGIC, _MIUI_MAGIC))


def _refuse(path: Path, miui: bool, why_zh: str, why_en: str) -> InputError:
    label = "小米（MIUI）备份 .bak 文件暂不能直接读取" if miui else "Android 备份文件无法读取"
    return InputError(path, f"{label}：{why_zh}；{_INSTEAD}", why_en)


def _payload(path: Path, raw: bytes) -> tuple[bytes, bool, str]:
    """(tar bytes, is MIUI, header summary) of a plain backup; InputError for encrypted / broken ones."""
    miui = raw.startswith(_MIUI_MAGIC)
    start = raw.find(ANDROID_MAGIC, 0, _MAX_HEADER) if miui else 0
    if start < 0:
        raise _refuse(path, miui, "文件里没有标准的 Android 备份数据（可能是加密或新版的小米备份）",
                      "no ANDROID BACKUP section (encrypted or newer MIUI format)")
    parts = raw[start:].split(b"\n", 4)
    if len(parts) < 5:
        raise _refuse(path, miui, "备份文件头不完整（文件被截断？）", "truncated backup header")
    _, version, compressed, encryption, data = parts
    if encryption.strip().lower() != b"none":
        raise _refuse(path, miui, f"这是加密的备份（设置了备份密码，加密方式 {encryption.decode(errors='replace')}）",
                      "an encrypted backup (backup password)")
    if compressed.strip() == b"1":
        decompressor = zlib.decompressobj()
        try:
            data = decompressor.decompress(data, _MAX_TAR)
        except zlib.error as exc:
            raise _refuse(path, miui, "备份数据损坏，无法解压", f"corrupt compressed data ({exc})") from exc
        if not decompressor.eof and len(data) < _MAX_TAR:
            raise _refuse(path, miui, "备份数据不完整（文件被截断？），无法解压", "compressed data ends early (cut file?)")
    return data, miui, f"Android 备份 v{version.decode(errors='replace').strip()}"


def _telephony_json(data: bytes, member: str) -> tuple[list[Message], list[Problem]]:
    """Android's ``*_sms_backup``: zlib-compressed JSON array of SMS rows."""
    try:
        rows = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        return [], [Problem(None, f"{member}：短信备份数据无法解析（{exc}），已跳过", f"{member}: unreadable ({exc})")]
    messages: list[Message] = []
    problems: list[Problem] = []
    for number, row in enumerate(rows if isinstance(rows, list) else [], start=1):
        if not isinstance(row, dict):
            problems.append(Problem(None, f"{member} 第 {number} 条：格式不对，已跳过", f"{member} #{number}: not an object"))
            continue
        kind = str(row.get("type", "")).strip()
        if kind == "3":
            problems.append(Problem(None, f"{member} 第 {number} 条是草稿，未发送，已跳过", f"{member} #{number}: draft"))
            continue
        direction = {"1": "received", "2": "sent", "4": "sent", "5": "sent", "6": "sent"}.get(kind)
        if not kind and str(row.get("date_sent", "")).isdigit():  # no type: a sent time set by the network = received
            direction = "received" if int(row["date_sent"]) > 0 else "sent"
        body = str(row.get("body") or "").strip()
        if not body:
            problems.append(Problem(None, f"{member} 第 {number} 条没有文字，已跳过", f"{member} #{number}: no body"))
            continue
        address = str(row.get("address") or "").strip() or None
        when = parse_epoch(str(row.get("date", "")))
        message = Message(index=len(messages), kind="sms", direction=direction, text=body,
                          number=canonical_number(address) if address else None, number_raw=address,
                          time=when, time_source="epoch" if when else None,
                          time_text=str(row.get("date")) if row.get("date") is not None else None,
                          meta={"member": member, "entry": number})
        if direction is None:
            message.notes.append(f"短信类型 type={kind!r} 未知，方向未知")
        if when is None:
            message.notes.append("时间无法识别")
        messages.append(message)
    return messages, problems


def _inner_file(data: bytes, member: str) -> ParsedFile | None:
    """An SMS XML / vMessage / SQLite file inside the archive, parsed from a private temporary copy."""
    name = PurePosixPath(member).name
    head = data[:4096]
    is_xml = looks_like_sms_xml(head)
    is_vmsg = b"BEGIN:VMSG" in head.upper()
    is_db = head.startswith(SQLITE_MAGIC)
    if not (is_xml or is_vmsg or is_db):
        return None
    with tempfile.TemporaryDirectory(prefix="callproof-ab-") as folder:
        copy = Path(folder) / name
        copy.write_bytes(data)
        if is_db and not sms_db_kind(copy):
            return None
        try:
            return parse_sms_xml(copy) if is_xml else parse_vmsg(copy) if is_vmsg else parse_sms_db(copy)
        except InputError:
            return None


def parse_android_backup(path: Path) -> ParsedFile:
    """The SMS inside an unencrypted Android / MIUI backup; InputError (one line) for anything else."""
    path = Path(path)
    raw = read_bytes(path)
    data, miui, header = _payload(path, raw)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            members = [m for m in archive.getmembers() if m.isfile()]
            contents = [(m.name, handle.read()) for m in members if (handle := archive.extractfile(m)) is not None]
    except (tarfile.TarError, EOFError) as exc:
        raise _refuse(path, miui, "备份里的归档数据损坏（文件被截断？）", f"corrupt tar inside ({exc})") from exc
    messages: list[Message] = []
    problems: list[Problem] = []
    read_from: list[str] = []
    for name, content in contents:
        if name.endswith("_sms_backup"):
            found, issues = _telephony_json(content, name)
        elif (inner := _inner_file(content, name)) is not None:
            found = inner.messages
            issues = [Problem(p.line, f"{name}：{p.reason_zh}", f"{name}: {p.reason_en}", p.skipped)
                      for p in inner.problems]
            for message in found:
                message.meta["member"] = name
        else:
            continue
        read_from.append(name)
        problems += issues
        for message in found:
            message.index = len(messages)
            messages.append(message)
    if not read_from:
        names = "、".join(m.name for m in members[:8]) or "（空）"
        more = f" 等 {len(members)} 个文件" if len(members) > 8 else ""
        raise _refuse(path, miui, f"备份里没有找到短信数据（内含：{names}{more}）",
                      f"no SMS data inside; members: {[m.name for m in members[:8]]}")
    return ParsedFile("android_backup", "sms", messages, problems,
                      meta={"miui": miui, "header": header, "members": read_from,
                            "notices": [f"从{'小米' if miui else ' Android '}备份中读取：{'、'.join(read_from)}"]})
