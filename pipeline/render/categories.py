"""Flag categories and legal basis ids as people see them: Chinese labels and colours.

The one place the HTML pages and the review app take labels and colours from (TAXONOMY.md).
A category not listed here (a new rule pack's) still renders, with its code as label.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryStyle:
    code: str
    label: str  # Chinese
    colour: str  # strong colour (#rrggbb): underline, legend swatch, chart; pale tint as background
    level: str = "segment"  # segment | call (call-log rules)


_CATEGORIES = (
    CategoryStyle("CONTACTS_BLAST", "爆通讯录 / 通讯录威胁", "#d62728"),
    CategoryStyle("THIRD_PARTY_CONTACT", "联系亲友/同事/单位", "#ff7f0e"),
    CategoryStyle("THIRD_PARTY_DISCLOSURE", "向第三人透露债务", "#bcbd22"),
    CategoryStyle("VIOLENCE_THREAT", "暴力/人身威胁", "#8c1515"),
    CategoryStyle("HOME_WORK_VISIT", "上门/外访威胁", "#9467bd"),
    CategoryStyle("FALSE_LEGAL", "虚假/夸大法律后果", "#1f77b4"),
    CategoryStyle("IMPERSONATION", "冒充公检法/律师/政府", "#17becf"),
    CategoryStyle("INSULT", "辱骂/人格贬损", "#e377c2"),
    CategoryStyle("OBSCENE", "淫秽/性羞辱", "#7b4173"),
    CategoryStyle("EXPOSURE", "曝光/发朋友圈/P图/张贴", "#2ca02c"),
    CategoryStyle("FORCED_BORROW", "逼迫借新还旧", "#8c564b"),
    CategoryStyle("OFF_HOURS", "非时段催收", "#393b79", "call"),
    CategoryStyle("EXCESS_FREQ", "频次超限", "#637939", "call"),
)
CATEGORIES: dict[str, CategoryStyle] = {c.code: c for c in _CATEGORIES}
UNKNOWN_COLOUR = "#7f7f7f"

LEGAL_BASIS_LABELS: dict[str, str] = {
    "CL-293-1": "刑法第293条之一 催收非法债务罪",
    "CL-293": "刑法第293条 寻衅滋事（2013年两高解释第3条）",
    "CL-253-1": "刑法第253条之一 侵犯公民个人信息罪",
    "CL-246": "刑法第246条 侮辱罪、诽谤罪",
    "CL-274": "刑法第274条 敲诈勒索罪",
    "CL-279": "刑法第279条 招摇撞骗罪",
    "CL-280": "刑法第280条 伪造国家机关公文罪",
    "PSL-42": "治安管理处罚法（2012）第42条 威胁、侮辱、多次发送侮辱恐吓信息、散布隐私",
    "PSL-51": "治安管理处罚法（2012）第51条 冒充国家机关工作人员招摇撞骗",
    "PSL-2025-50": "治安管理处罚法（2025修订）第50条 滋扰、纠缠、跟踪（待核实）",
    "CC-1024": "民法典第1024条 名誉权",
    "CC-1032": "民法典第1032条 隐私权",
    "CC-1033": "民法典第1033条 不得以电话、短信等方式侵扰私人生活安宁",
    "CC-1034": "民法典第1034条 个人信息受法律保护（含电话号码）",
    "CC-1038": "民法典第1038条 不得非法向他人提供个人信息",
    "PIPL-10": "个人信息保护法第10条 不得非法处理个人信息",
    "PIPL-13": "个人信息保护法第13条 处理个人信息的合法性基础",
    "PIPL-23": "个人信息保护法第23条 向他人提供个人信息须单独同意",
    "PIPL-25": "个人信息保护法第25条 不得公开个人信息（单独同意除外）",
    "GBT-45251": "GB/T 45251—2025 §5.3 催收行为规范（仅联系债务人、22:00–08:00不催收、每日接通≤3次）",
    "CBA-2026": "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》第三章",
    "SV-2019": "两高两部《关于办理实施“软暴力”的刑事案件若干问题的意见》（2019）",
    "CPM-41": "银行保险机构消费者权益保护管理办法（2023）不得冒用行政司法机关名义、暴力恐吓欺诈",
}

STATUS_LABELS = {"pending": "待复核", "accepted": "已确认", "rejected": "已排除"}
DIRECTION_LABELS = {"incoming": "来电", "outgoing": "去电", "conference": "多方通话"}
SOURCE_LABELS = {"filename": "文件名", "tag": "文件标签", "mtime": "文件修改时间，仅供推测", "user": "用户填写",
                 "sidecar": "录音软件记录"}


def category_style(code: str) -> CategoryStyle:
    return CATEGORIES.get(code) or CategoryStyle(code, code, UNKNOWN_COLOUR)


def category_label(code: str) -> str:
    return category_style(code).label


def legal_basis_label(basis_id: str) -> str:
    label = LEGAL_BASIS_LABELS.get(basis_id)
    return f"{basis_id} {label}" if label else basis_id


def tint(colour: str, alpha: str = "33") -> str:
    """The pale background version of a strong #rrggbb colour (8-digit hex, alpha in hex)."""
    return f"{colour}{alpha}"


def categories_for_client() -> list[dict[str, str]]:
    """Label and colour of every known category, for the review page's menus and legend."""
    return [{"code": c.code, "label": c.label, "colour": c.colour, "level": c.level} for c in _CATEGORIES]
