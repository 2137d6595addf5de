"""Flag categories and legal basis ids as people see them: Chinese labels and colours.

The one place the HTML pages and the review app take labels and colours from (TAXONOMY.md).
A category not listed here (a new rule pack's) still renders, with its code as label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.render.legal_bases import basis_label, load_bases


@dataclass(frozen=True)
class CategoryStyle:
    code: str
    label: str  # Chinese
    colour: str  # strong colour (#rrggbb): underline, legend swatch, chart; pale tint as background
    level: str = "segment"  # segment | call (call-log rules)
    short: str = ""  # a few characters, safe in a file name (excerpts/01_…_爆通讯录.wav)


_CATEGORIES = (
    CategoryStyle("CONTACTS_BLAST", "爆通讯录 / 通讯录威胁", "#d62728", "segment", "爆通讯录"),
    CategoryStyle("THIRD_PARTY_CONTACT", "联系亲友/同事/单位", "#ff7f0e", "segment", "联系亲友"),
    CategoryStyle("THIRD_PARTY_DISCLOSURE", "向第三人透露债务", "#bcbd22", "segment", "透露债务"),
    CategoryStyle("VIOLENCE_THREAT", "暴力/人身威胁", "#8c1515", "segment", "暴力威胁"),
    CategoryStyle("HOME_WORK_VISIT", "上门/外访威胁", "#9467bd", "segment", "上门威胁"),
    CategoryStyle("FALSE_LEGAL", "虚假/夸大法律后果", "#1f77b4", "segment", "虚假法律后果"),
    CategoryStyle("IMPERSONATION", "冒充公检法/律师/政府", "#17becf", "segment", "冒充公检法"),
    CategoryStyle("INSULT", "辱骂/人格贬损", "#e377c2", "segment", "辱骂"),
    CategoryStyle("OBSCENE", "淫秽/性羞辱", "#7b4173", "segment", "性羞辱"),
    CategoryStyle("EXPOSURE", "曝光/发朋友圈/P图/张贴", "#2ca02c", "segment", "曝光"),
    CategoryStyle("FORCED_BORROW", "逼迫借新还旧", "#8c564b", "segment", "逼借新还旧"),
    CategoryStyle("OFF_HOURS", "非时段催收", "#393b79", "call", "非时段催收"),
    CategoryStyle("EXCESS_FREQ", "频次超限", "#637939", "call", "频次超限"),
)
CATEGORIES: dict[str, CategoryStyle] = {c.code: c for c in _CATEGORIES}
UNKNOWN_COLOUR = "#7f7f7f"

# Legal basis id -> its citation (every version, with the dates it covers): configs/legal/bases.yaml
LEGAL_BASIS_LABELS: dict[str, str] = {basis: basis_label(basis) for basis in load_bases()}

STATUS_LABELS = {"pending": "待复核", "accepted": "已确认", "rejected": "已排除"}
DIRECTION_LABELS = {"incoming": "来电", "outgoing": "去电", "conference": "多方通话"}
SOURCE_LABELS = {"filename": "文件名", "tag": "文件标签", "mtime": "文件修改时间，仅供推测", "user": "用户填写",
                 "sidecar": "录音软件记录"}


def category_style(code: str) -> CategoryStyle:
    return CATEGORIES.get(code) or CategoryStyle(code, code, UNKNOWN_COLOUR)


def category_label(code: str) -> str:
    return category_style(code).label


def category_short(code: str) -> str:
    """A few characters naming the category, safe in a file name."""
    style = category_style(code)
    return style.short or re.sub(r"[^A-Za-z0-9_]", "_", code)


def legal_basis_label(basis_id: str) -> str:
    """The basis in plain Chinese (no id): the citation, each version with its dates."""
    return basis_label(basis_id)


def tint(colour: str, alpha: str = "33") -> str:
    """The pale background version of a strong #rrggbb colour (8-digit hex, alpha in hex)."""
    return f"{colour}{alpha}"


def categories_for_client() -> list[dict[str, str]]:
    """Label and colour of every known category, for the review page's menus and legend."""
    return [{"code": c.code, "label": c.label, "colour": c.colour, "level": c.level} for c in _CATEGORIES]
