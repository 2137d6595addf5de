"""Drafts for the remaining channels of the victims' guide (issue 15) and the call-log facts they use.

``CHANNEL_DRAFTS`` (pack path -> template in configs/templates/) is registered with the other
complaint drafts; every template gets ``complaint_context`` plus ``call_log`` from
``call_log_context``: the case's whole call log (recorded or not) as ``pipeline.calllog.rules``
summed it up in the case info — totals, the busiest days, the numbers (also masked, for the
media page), the findings and the log files.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.callmeta import canonical_number

CHANNEL_DRAFTS = {
    "complaints/creditchina.txt": "creditchina.txt.j2",  # 信用中国 投诉
    "complaints/civil_complaint.txt": "civil_complaint.txt.j2",  # 民事起诉状
    "complaints/behaviour_preservation.txt": "behaviour_preservation.txt.j2",  # 行为保全申请书
    "complaints/media_summary.txt": "media_summary.txt.j2",  # 媒体求助（默认隐去号码和姓名）
}
BUSIEST_DAYS = 5
LISTED_NUMBERS = 10


def mask_number(number: str | None) -> str:
    """138****8000 for a mobile, 0755****34 for a landline; names and short numbers become 某号码."""
    digits = re.sub(r"\D", "", canonical_number(number) or "")
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-2:]}"
    return "某号码"


def call_log_context(case: Any) -> dict[str, Any]:
    """The ``call_log`` template variable (``has`` False and zeros when the case has no imported log)."""
    raw = (getattr(case, "case_info", None) or {}).get("call_log")
    digest = json.loads(raw) if raw else {}
    numbers = [{**n, "masked": mask_number(n["number"])} for n in digest.get("numbers", [])[:LISTED_NUMBERS]]
    rejected = getattr(case, "log_rejected", set())  # a reviewer's 排除 holds in the drafts too
    digest["findings"] = [f for f in digest.get("findings", [])
                          if (f["rule"], f.get("description")) not in rejected]
    days = sorted(digest.get("days", []), key=lambda d: (-d["calls"], d["day"]))
    return {
        "has": bool(digest.get("files")),
        **{k: digest.get(k, 0) for k in ("calls", "recorded", "unrecorded", "unanswered", "off_hours", "outgoing",
                                         "numbers_count")},
        "first": digest.get("first", "时间未知"), "last": digest.get("last", "时间未知"),
        "numbers": numbers, "more_numbers": max(0, len(digest.get("numbers", [])) - LISTED_NUMBERS),
        "days_count": len(digest.get("days", [])), "busiest": days[:BUSIEST_DAYS],
        "findings": digest.get("findings", []),
        "rotations": [f for f in digest.get("findings", []) if f["rule"].startswith("excess_freq.rotating")],
        "files": digest.get("files", []),
        "relatives": [p for p in digest.get("people", []) if not p["is_borrower"] and p["person"] != "未注明"],
    }
