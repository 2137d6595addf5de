"""Call metadata: counterpart number, start time, direction and duration of one recording.

Sources, best first: the user's ``calls.csv`` ('user'), a BCR ``.json`` sidecar ('sidecar'),
the file name written by a built-in recorder or recorder app ('filename'; the shapes are in
shared/design/RECORDERS.md), the container's ``creation_time`` ('tag'; Android writes it when
the call ENDS, in UTC) and last the file mtime ('mtime', also the end of the call).
Naive datetimes are device-local wall time; an offset or an epoch gives a tz-aware one.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.callmeta import (
    DEFAULT_ZONE,
    CallMeta,
    canonical_number,
    is_number_like,
    local_zone,
    plausible_time,
)
from pipeline.callnames import NO_YEAR, RECORDERS, parse_filename
from pipeline.errors import InputError

__all__ = [  # the file-name and shared names stay importable from here
    "DEFAULT_ZONE", "NO_YEAR", "RECORDERS", "CallMeta", "apply_overrides", "call_metadata",
    "canonical_number", "is_number_like", "load_overrides", "local_zone", "parse_duration", "parse_filename",
]


# ---------------------------------------------------------------- tags, mtime, sidecar

_MP4_EPOCH_BUG = timedelta(seconds=2082844800)  # 1904 -> 1970: old Android wrote Unix seconds


def _creation_time(tags: dict | None, notes: list[str]) -> datetime | None:
    raw = next((v for k, v in (tags or {}).items() if k.lower() == "creation_time" and v), None)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        notes.append(f"无法解析容器时间 {raw!r}")
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when.year < 1990 and plausible_time((when + _MP4_EPOCH_BUG).year, 1, 1):
        notes.append("容器时间按旧版 Android 的 1904/1970 纪元错误修正")
        when += _MP4_EPOCH_BUG
    return when if plausible_time(when.year, 1, 1) else None


def _read_sidecar(path: Path, meta: CallMeta) -> None:
    """BCR's `<same name>.json` is authoritative for time, direction, number and names."""
    sidecar = path.with_suffix(".json")
    if sidecar == path or not sidecar.is_file():
        return
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        meta.notes.append(f"旁路文件 {sidecar.name} 无法读取: {err}")
        return
    if not isinstance(data, dict):
        return
    start = None
    if isinstance(data.get("timestamp"), str):
        try:
            start = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
        except ValueError:
            start = None
    if start is None and isinstance(data.get("timestamp_unix_ms"), int | float):
        start = datetime.fromtimestamp(data["timestamp_unix_ms"] / 1000, UTC)
    if start is not None:
        meta.set("start", start, "sidecar")
        meta.time_precision = "ms"
    direction = {"in": "incoming", "out": "outgoing", "conference": "conference"}.get(data.get("direction"))
    if direction:
        meta.set("direction", direction, "sidecar")
    calls = [c for c in data.get("calls") or [] if isinstance(c, dict)]
    if calls:
        meta.participants = [(canonical_number(c.get("phone_number")), c.get("contact_name")) for c in calls]
        first = calls[0]
        if first.get("phone_number"):
            meta.number_raw = first["phone_number"]
            meta.set("number", canonical_number(first["phone_number"]), "sidecar")
        name = first.get("contact_name") or first.get("caller_name") or data.get("call_log_name")
        if name:
            meta.set("contact_name", name, "sidecar")
    recording = (data.get("output") or {}).get("recording") or {}
    if meta.duration is None and isinstance(recording.get("duration_secs_total"), int | float):
        meta.set("duration", float(recording["duration_secs_total"]), "sidecar")


def call_metadata(path: Path, tags: dict | None = None, duration: float | None = None,
                  mtime: float | None = None, *, zone: str = DEFAULT_ZONE) -> CallMeta:
    """Everything known about one recording's call, each field with its source.

    ``tags`` are the container's format tags (ffprobe/PyAV), ``duration`` the probed length in
    seconds, ``mtime`` the original file's modification time (read from disk when omitted).
    """
    path = Path(path)
    if mtime is None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
    mtime_local = datetime.fromtimestamp(mtime, local_zone(zone)).replace(tzinfo=None) if mtime else None
    meta = parse_filename(path, year_hint=mtime_local)
    if meta is None:
        meta = CallMeta(notes=["文件名不是已知录音软件的格式"])
    if duration is not None:
        meta.set("duration", float(duration), "tag")
    _read_sidecar(path, meta)
    if meta.start is None:
        for end, source in ((_creation_time(tags, meta.notes), "tag"),
                            (datetime.fromtimestamp(mtime, UTC) if mtime else None, "mtime")):
            if end is None:
                continue
            meta.set("end", end, source)
            meta.time_precision = "s"
            label = "容器 creation_time" if source == "tag" else "文件修改时间"
            if meta.duration is not None:
                meta.set("start", end - timedelta(seconds=meta.duration), source)
                meta.notes.append(f"开始时间 = {label}（通话结束时刻）减去时长")
            else:
                meta.notes.append(f"只知道通话结束时间（{label}），时长未知")
            break
    elif meta.end is None and meta.duration is not None:
        meta.set("end", meta.start + timedelta(seconds=meta.duration), meta.sources["start"])
    return meta


# ---------------------------------------------------------------- calls.csv (user overrides)

_CSV_COLUMNS = {
    "file": ("file", "文件", "文件名"), "number": ("number", "号码", "对方号码"),
    "start": ("start", "开始时间", "时间"), "direction": ("direction", "方向"),
    "duration": ("duration", "时长"), "contact_name": ("contact_name", "联系人", "对方"),
    "type": ("type", "类型", "状态", "通话状态"),
    "received_by": ("received_by", "接听人"), "note": ("note", "备注"),
}
_DIRECTION_WORDS = {
    "incoming": "incoming", "in": "incoming", "来电": "incoming", "呼入": "incoming", "打入": "incoming",
    "outgoing": "outgoing", "out": "outgoing", "去电": "outgoing", "呼出": "outgoing", "打出": "outgoing",
    "conference": "conference", "会议": "conference",
}


def _csv_start(text: str) -> datetime:
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if m:
        return datetime(*(int(x) for x in m.groups(default="0")))
    return datetime.fromisoformat(text)


def parse_duration(text: str) -> float:
    """Seconds from ``200``, ``3:20``, ``1:05:30``, ``3分20秒``, ``1小时2分3秒`` (ValueError otherwise)."""
    text = text.strip()
    m = re.fullmatch(r"(?:(\d+)\s*(?:小时|时))?\s*(?:(\d+)\s*分钟?)?\s*(?:(\d+(?:\.\d+)?)\s*秒)?", text)
    if m and any(m.groups()):
        h, mi, s = (float(x or 0) for x in m.groups())
        return h * 3600 + mi * 60 + s
    if not re.fullmatch(r"\d+(?:\.\d+)?(?::\d{1,2}(?:\.\d+)?){0,2}", text):  # s, m:ss or h:mm:ss
        raise ValueError(text)
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(text.split(":"))))


def _csv_value(key: str, text: str) -> Any:
    if key == "start":
        return _csv_start(text)
    if key == "duration":
        return parse_duration(text)
    if key == "direction":
        return _DIRECTION_WORDS[text.lower()]
    if key == "type":
        return CALL_TYPE_WORDS.get(text.lower()) or {"incoming": "incoming", "outgoing": "outgoing"}[
            _DIRECTION_WORDS[text.lower()]]
    if key == "number" and canonical_number(text) is None:
        raise ValueError(text)
    return text


def _read_csv_text(csv_path: Path) -> str:
    raw = csv_path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(csv_path, "无法识别文件编码，请另存为 UTF-8", "unknown text encoding, save as UTF-8")


CALL_TYPE_WORDS = {
    "未接": "missed", "未接来电": "missed", "missed": "missed", "响铃未接": "missed",
    "拒接": "rejected", "已拒接": "rejected", "rejected": "rejected", "拦截": "blocked", "已拦截": "blocked",
    "blocked": "blocked", "语音信箱": "voicemail", "voicemail": "voicemail",
    "已接": "incoming", "接通": "incoming", "已接来电": "incoming", "answered": "incoming",
}


def read_calls_csv(csv_path: Path) -> list[tuple[int, dict[str, str], dict[str, Any], dict[str, str]]]:
    """calls.csv as (line, raw cells, parsed values, bad cells) per non-empty row.

    Keys: file, number, start, direction, type, duration, contact_name, received_by, note. A bad
    header raises InputError; a bad cell is left to the caller (``bad`` maps key -> cell text).
    """
    csv_path = Path(csv_path)
    try:
        text = _read_csv_text(csv_path)
    except OSError as err:
        raise InputError(csv_path, "无法读取", f"cannot read: {err.strerror}") from err
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    aliases = {alias.lower(): key for key, names in _CSV_COLUMNS.items() for alias in names}
    keys = [aliases.get(h.strip().lower()) for h in header or []]
    unknown = [h for h, k in zip(header or [], keys, strict=True) if k is None and h.strip()]
    if unknown or not ({"file", "number", "contact_name"} & set(keys)):
        raise InputError(csv_path, f"第 1 行表头需要 file 列（录音）或 number 与 start 列（通话记录），未知列: {unknown}",
                         f"line 1: header needs a 'file' column (recordings) or 'number' and 'start' (call log);"
                         f" unknown columns: {unknown}")
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        raw = {k: c.strip() for k, c in zip(keys, cells, strict=False) if k and c.strip()}
        values: dict[str, Any] = {}
        bad: dict[str, str] = {}
        for key, cell in raw.items():
            try:
                values[key] = _csv_value(key, cell)
            except (ValueError, KeyError):
                bad[key] = cell
        rows.append((reader.line_num, raw, values, bad))
    return rows


def load_overrides(csv_path: Path) -> dict[str, dict[str, Any]]:
    """Rows of the user's calls.csv that name a recording, keyed by file (name or relative path, '/'-separated).

    Only filled cells appear in a row's dict; keys: number, start, direction, duration,
    contact_name, received_by, note. A malformed row raises InputError naming its line. Rows
    without a file are calls without a recording: ``pipeline.calllog.user_csv`` reads them.
    """
    csv_path = Path(csv_path)
    rows: dict[str, dict[str, Any]] = {}
    for line, raw, values, bad in read_calls_csv(csv_path):
        if not raw.get("file"):
            continue
        if bad:
            key, cell = next(iter(bad.items()))
            raise InputError(csv_path, f"第 {line} 行 {key} 列无法识别: {cell!r}", f"line {line}: bad {key} value {cell!r}")
        values.pop("type", None)  # a recording is a connected call
        name = re.sub(r"^(?:\./)+", "", str(values.pop("file", "")).replace("\\", "/")).strip("/")
        if name in rows:
            raise InputError(csv_path, f"第 {line} 行重复的文件 {name}", f"line {line}: duplicate file {name}")
        rows[name] = values
    return rows


def apply_overrides(meta: CallMeta, path: Path, overrides: dict[str, dict[str, Any]],
                    root: Path | None = None) -> CallMeta:
    """Apply the calls.csv row for ``path`` (matched by path relative to ``root``, else by name)."""
    path = Path(path)
    relative = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else ""
    row = overrides.get(relative) or overrides.get(path.name)
    if not row:
        return meta
    for name, value in row.items():
        if name == "number":
            meta.number_raw = value
            meta.set("number", canonical_number(value), "user")
        elif name == "note":
            meta.set("user_note", value, "user")
        else:
            meta.set(name, value, "user")
    if "start" in row:
        meta.time_precision = "s"
        if "end" not in row and meta.duration is not None:
            meta.set("end", row["start"] + timedelta(seconds=meta.duration), "user")
    return meta
