"""What ``run`` and ``add-messages`` print about message files: one row per file (imported,
skipped, flagged), the reason of every skipped entry and failed file in one line each, and how
files were read (e.g. the inferred owner of a group chat)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from pipeline.display import console_text, printable

STATUS_ZH = {"done": "完成", "reused": "已导入(未变)", "failed": "失败"}
FORMAT_ZH = {"sms_xml": "短信备份XML", "sms_csv": "表格CSV", "chat_text": "聊天记录TXT", "screenshot": "截图",
             "sms_db": "短信数据库", "qq_mht": "QQ网页导出MHT", "qce_json": "QQChatExporter JSON",
             "qce_txt": "QQChatExporter TXT", "memotrace_html": "留痕网页HTML", "wechat_exporter_txt": "WechatExporter TXT",
             "wechat_exporter_html": "WechatExporter 网页", "vmsg": "短信vmsg", "android_backup": "安卓/小米备份"}
MAX_LINES_PER_FILE = 8


def totals_line(report: Any) -> str:
    """``消息文件 3 个：导入 21 条，跳过 3 条，标记 5 处（时段/频次 2 处），失败 1 个文件``."""
    outcomes = report.outcomes
    return (f"消息文件 {len(outcomes)} 个：导入 {sum(o.messages for o in outcomes)} 条，"
            f"跳过 {sum(o.skipped for o in outcomes)} 条，标记 {sum(o.flags for o in outcomes)} 处"
            f"（另有时段/频次标记 {report.log_flags} 处），失败 {len(report.failed)} 个文件")


def detail_lines(report: Any, limit: int = MAX_LINES_PER_FILE) -> list[str]:
    """One line per failure, notice and skipped entry / warning (at most ``limit`` per file)."""
    lines: list[str] = []
    for o in report.outcomes:
        if o.status == "failed":
            lines.append(f"  失败: {o.error}")
            continue
        for notice in o.notices:
            lines.append(f"  说明: {o.path.name}: {notice}")
        for problem in o.problems[:limit]:
            lines.append(f"  跳过/警告: {o.path.name}: {problem}")
        if len(o.problems) > limit:
            lines.append(f"  跳过/警告: {o.path.name}: 另有 {len(o.problems) - limit} 条，见案件目录 summary.json 和消息页面")
    return lines


def print_message_summary(console: Console, report: Any) -> None:
    """The message table, the totals and the detail lines; nothing when there were no message files."""
    if not report.outcomes:
        return
    table = Table(title="消息导入结果 (messages imported)")
    for column in ("文件", "格式", "状态", "接收人", "导入", "跳过", "标记数"):
        table.add_column(column, overflow="fold")
    for o in report.outcomes:
        status = STATUS_ZH.get(o.status, o.status)
        if o.status == "failed":
            status = f"[red]{status}[/red]"
        table.add_row(console_text(o.path.name), FORMAT_ZH.get(o.format or "", o.format or "—"), status,
                      console_text(o.received_by or "—"),
                      str(o.messages), str(o.skipped), str(o.flags))
    console.print(table)
    console.print(totals_line(report))
    for line in detail_lines(report):
        console.print(printable(line), markup=False, highlight=False)
