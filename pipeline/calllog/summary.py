"""What ``run`` and ``add-calllog`` print and write about call logs: a row per log file, the
reason of every unreadable row and failed file (one line each, all of them), and the merged log
of the case as ``CASE/calllog/calllog.csv`` + ``calllog.json`` (every call, recorded or not)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.calllog.merge import LoggedCall
from pipeline.calllog.model import TIME_SOURCES, TYPE_LABELS
from pipeline.calllog.rules import FORMAT_LABELS
from pipeline.display import console_text, printable
from pipeline.render.writers import atomic_write_text

STATUS_ZH = {"done": "完成", "reused": "已导入(未变)", "failed": "失败"}
CSV_COLUMNS = ("时间", "时间精度", "号码", "联系人", "类型", "时长(秒)", "次数", "接收人", "有录音", "时间来源", "记录编号", "说明")
PRECISION_ZH = {"ms": "毫秒", "s": "秒", "minute": "分钟", "day": "仅日期"}


def totals_line(report: Any) -> str:
    data = report.to_dict()
    return (f"通话记录文件 {data['files']} 个：读入 {data['entries']} 条（{data['calls']} 次通话），"
            f"无法读取 {data['skipped']} 行，时段/频次/换号发现 {report.findings} 处，失败 {len(data['failed'])} 个文件")


def detail_lines(report: Any) -> list[str]:
    """Every failed file and every unreadable row or warning, one line each."""
    lines = []
    for o in report.outcomes:
        if o.status == "failed":
            lines.append(f"  失败: {o.error}")
        elif o.status != "not_call_log":
            lines += [f"  无法读取/警告: {o.path.name}: {problem}" for problem in o.problems]
    return lines


def print_call_log_summary(console: Console, report: Any) -> None:
    kept = [o for o in report.outcomes if o.status != "not_call_log"]
    if not kept:
        return
    table = Table(title="通话记录导入结果 (call logs imported)")
    for column in ("文件", "格式", "状态", "接收人", "条目", "通话次数", "无法读取"):
        table.add_column(column, overflow="fold")
    for o in kept:
        status = STATUS_ZH.get(o.status, o.status)
        table.add_row(console_text(o.path.name), FORMAT_LABELS.get(o.format or "", o.format or "—"),
                      f"[red]{status}[/red]" if o.status == "failed" else status, console_text(o.received_by or "—"),
                      str(o.entries), str(o.calls), str(o.skipped))
    console.print(table)
    console.print(totals_line(report))
    for line in detail_lines(report):
        console.print(printable(line), markup=False, highlight=False)


def _row(call: LoggedCall) -> list[str]:
    when = call.start.isoformat(sep=" ")[:19 if call.time_precision != "day" else 10] if call.start else "时间未知"
    return [when, PRECISION_ZH.get(call.time_precision or "", ""), call.number or "", call.contact_name or "",
            TYPE_LABELS.get(call.type, call.type), "" if call.duration is None else f"{call.duration:g}", str(call.count),
            call.received_by or "", "是" if call.call_id else "否",
            TIME_SOURCES.get(call.start_source or "", call.start_source or ""), " ".join(call.entry_ids) or call.id,
            "；".join(call.notes)]


def write_call_log_outputs(case_dir: Path, calls: list[LoggedCall], digest: dict[str, Any]) -> Path | None:
    """``CASE/calllog/calllog.csv`` (UTF-8 with BOM for Excel) and ``calllog.json``; nothing without a log."""
    if not digest.get("files"):
        return None
    out = Path(case_dir) / "calllog"
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(c) for c in calls)
    atomic_write_text(out / "calllog.csv", "\ufeff" + buffer.getvalue())
    document = {"schema": "callproof.calllog/1", "digest": digest,
                "calls": [{**{k: v for k, v in vars(c).items() if k != "start"},
                           "start": c.start.isoformat() if c.start else None} for c in calls]}
    atomic_write_text(out / "calllog.json", json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return out


def write_case_call_log(store: Any, case_dir: Path) -> dict[str, Any]:
    """Write the case's merged log (after ``apply_call_log_rules``); returns the digest for summary.json."""
    from pipeline.calllog.rules import DIGEST_KEY, case_call_log

    digest = json.loads(store.case_info().get(DIGEST_KEY) or "{}")
    calls, _ = case_call_log(store)
    write_call_log_outputs(case_dir, calls, digest)
    return {"digest": digest} if digest.get("files") else {}
