"""``calls.csv`` rows without a ``file``: the user's own list of calls that have no recording.

    file,number,start,type,duration,received_by,note
    ,13800138000,2024-01-15 23:05,未接,,母亲,
    ,+86 139 0013 9000,2024/1/16 07:40,已接,3分20秒,,

A row needs a number (or a contact name) and a start; ``type`` is 未接/missed, 拒接, 拦截, 已接,
呼入/呼出 (or ``direction`` 来电/去电). Without a type, a call with a duration > 0 is answered and one
with duration 0 unanswered. A bad row is one problem line; the others are kept.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.calllog.model import LogEntry, LogProblem, ParsedLog
from pipeline.callmeta import canonical_number
from pipeline.calls import read_calls_csv

_LABELS = {"number": "对方号码", "start": "开始时间", "type": "类型", "direction": "方向", "duration": "时长"}


def parse_user_log(path: Path) -> ParsedLog:
    """The file-less rows of a calls.csv (rows with a file describe recordings: ``load_overrides``)."""
    path = Path(path)
    entries, problems = [], []
    for line, raw, values, bad in read_calls_csv(path):
        if raw.get("file"):
            continue
        if bad:
            problems.append(LogProblem(line, "；".join(f"{_LABELS.get(k, k)}无法识别: {v!r}" for k, v in bad.items()),
                                       "; ".join(f"bad {k} {v!r}" for k, v in bad.items())))
            continue
        if not (values.get("number") or values.get("contact_name")) or "start" not in values:
            missing = "、".join(n for k, n in (("number", "对方号码"), ("start", "开始时间"))
                               if not values.get(k) and not (k == "number" and values.get("contact_name")))
            problems.append(LogProblem(line, f"没有录音文件的行需要对方号码和开始时间，缺少 {missing}",
                                       "a row without a file needs number and start"))
            continue
        duration = values.get("duration")
        kind = values.get("type") or values.get("direction")
        if kind is None:
            kind = "unknown" if duration is None else ("incoming" if duration > 0 else "missed")
        elif kind == "incoming" and duration == 0:
            kind = "missed"
        entry = LogEntry(index=len(entries), type=kind, number=canonical_number(values.get("number")),
                         number_raw=values.get("number"), contact_name=values.get("contact_name"),
                         start=values["start"], time_source="user", time_precision="s" if values["start"].second
                         else "minute", time_text=raw.get("start"), duration=duration,
                         received_by=values.get("received_by"), line=line)
        if kind == "unknown":
            entry.notes.append("未填写类型（未接/已接）或时长，方向和是否接通未知")
        if values.get("note"):
            entry.meta["note"] = values["note"]
        entries.append(entry)
    return ParsedLog("user_csv", entries, problems)


def has_log_rows(path: Path) -> bool:
    """True when a calls.csv holds at least one row without a file."""
    try:
        return any(not raw.get("file") for _, raw, _, _ in read_calls_csv(Path(path)))
    except Exception:  # a broken calls.csv is reported by the recordings' side (load_overrides)
        return False
