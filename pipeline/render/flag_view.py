"""One flag as a page shows it: whatever its source (rules engine dict, store row), the same fields.

The rules engine writes ``start``/``end`` (char offsets), ``segment_index`` and ``match``; the
store writes ``start_char``/``end_char``, ``segment_idx`` and ``match_text``. Both are read here,
and the explanation is turned into short Chinese lines: ``explanation`` in plain words (which
words, what was checked) for the reviewer and the clerk, ``technical`` (rule ids, patterns,
scores, the engine's English notes) for the 技术细节 toggle only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.render.categories import STATUS_LABELS, category_style, legal_basis_label

GATE_LABELS = {
    "negation": "前面没有否定词",
    "question": "不是借款人的提问",
    "quotation": "不是转述他人的话",
    "perspective": "不是借款人角度的说法",
    "speaker": "说话人是催收方",
    "retelling": "不是转述新闻或他人的案例",
}
KIND_LABELS = {"phrase": "短语", "phrases": "短语", "tokens": "词序列", "token": "词序列", "regex": "正则"}
MAX_PATTERN_CHARS = 48  # long regexes mean nothing to a reviewer; the rule id leads to the pack
ROLE_NAMES = {"collector": "催收方", "borrower": "借款人", "third_party": "第三人", "unknown": "未确认"}


@dataclass
class FlagView:
    category: str
    label: str
    colour: str
    rule: str
    rules: list[str] = field(default_factory=list)
    id: int | None = None
    level: str = "segment"
    segment_index: int | None = None
    start_char: int | None = None
    end_char: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    match: str = ""
    severity: int | None = None
    score: float | None = None
    legal_basis: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)  # plain Chinese lines
    technical: list[str] = field(default_factory=list)  # rule ids, patterns, scores: behind 技术细节
    speaker: str | None = None
    role: str | None = None
    speaker_unconfirmed: bool = False
    status: str = "pending"
    note: str | None = None
    stale: bool = False
    call_id: str | None = None
    ref: int | None = None  # the evidence item's number in a pack (one number per sentence)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def legal_basis_labels(self) -> list[str]:
        return [legal_basis_label(b) for b in self.legal_basis]

    @property
    def role_label(self) -> str:
        if self.level == "call":
            return "整通电话"
        if self.speaker_unconfirmed or not self.role:
            return "说话人未确认"
        return ROLE_NAMES.get(self.role, self.role)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(status_label=self.status_label, legal_basis_labels=self.legal_basis_labels,
                   role_label=self.role_label)
        return out


def _mapping(flag: Any) -> dict[str, Any]:
    if isinstance(flag, Mapping):
        return dict(flag)
    if hasattr(flag, "to_dict"):
        return dict(flag.to_dict())
    if dataclasses.is_dataclass(flag) and not isinstance(flag, type):
        return dataclasses.asdict(flag)
    raise TypeError(f"a flag must be a dict or a dataclass, not {type(flag).__name__}")


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


def _char(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def explanation_lines(explanation: Any, extra: Mapping[str, Any] | None = None) -> list[str]:
    """Every line of the explanation, plain first, then technical (see ``split_explanation``)."""
    plain, technical = split_explanation(explanation, extra)
    return [*plain, *technical]


def split_explanation(explanation: Any, extra: Mapping[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(plain Chinese lines, technical lines) of the rules engine's explanation (dict) or a call
    rule's text. Plain: the rule's Chinese description, context words, homophones, what was
    checked, the model tier's explanation. Technical: rule ids and patterns, an English note, unknown keys."""
    extra = extra or {}
    lines: list[str] = []
    technical: list[str] = []
    if extra.get("description_zh"):
        lines.append(str(extra["description_zh"]))
    if isinstance(explanation, str):
        if explanation:
            (lines if _is_chinese(explanation) else technical).append(explanation)
        return lines, technical
    if not isinstance(explanation, Mapping):
        return lines, technical
    for pattern in explanation.get("patterns") or []:
        if isinstance(pattern, Mapping):
            kind = KIND_LABELS.get(str(pattern.get("kind")), pattern.get("kind") or "")
            text = str(pattern.get("pattern") or "")
            text = text if len(text) <= MAX_PATTERN_CHARS else text[: MAX_PATTERN_CHARS - 1] + "…"
            technical.append(f"规则 {pattern.get('rule', '')}（{kind}）：{text}")
    if explanation.get("context"):
        lines.append("同一句中还有这些词：" + "、".join(map(str, explanation["context"])))
    if explanation.get("fuzzy_terms"):
        pairs = "、".join(f"“{t.get('heard')}”按“{t.get('term')}”" for t in explanation["fuzzy_terms"])
        lines.append(f"同音容错（可能是识别错字，已降分）：{pairs}")
    if explanation.get("escalated_by"):
        lines.append("加重情节：" + "、".join(map(str, explanation["escalated_by"])))
    lines += model_lines(explanation)  # the model tier's own Chinese explanation (score, threshold, neighbours)
    if explanation.get("gates"):
        lines.append("已检查：" + "；".join(GATE_LABELS.get(g, g) for g in explanation["gates"]))
    known = {"patterns", "matched", "context", "fuzzy", "fuzzy_terms", "escalated_by", "gates", "base_score",
             "model", "score", "threshold", "neighbours", "examples"}
    for key, value in explanation.items():
        if key not in known and isinstance(value, str | int | float) and value != "":
            (lines if _is_chinese(str(key)) else technical).append(f"{key}：{value}")
    return lines, technical


def _is_chinese(text: str) -> bool:
    """True when the text is mostly Chinese (an English engine note is technical)."""
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = sum(ch.isascii() and ch.isalpha() for ch in text)
    return han > 0 and han >= latin / 4


def _labels(codes: Iterable[Any]) -> str:
    return "、".join("不违规（反例）" if c == "NEG" else category_style(str(c)).label for c in codes) or "不违规（反例）"


def model_lines(explanation: Mapping[str, Any]) -> list[str]:
    """A model-tier flag in plain Chinese: which model, its score against the threshold, the nearest
    labelled sentences of its training corpus, and the user's example it matched."""
    model = explanation.get("model")
    if not isinstance(model, Mapping):
        return []
    sha = str(model.get("sha256") or "")[:12]
    lines = [f"模型 {model.get('name', '')}（版本 {model.get('version', '')}，sha256 {sha}…）判断这句话属于该类别："
             f"得分 {float(explanation.get('score') or 0):.2f}，阈值 {float(explanation.get('threshold') or 0):.2f}"
             "（得分是在标注语料上校准过的概率，达到阈值才标记；这是按整句的意思和用词学出来的判断，不是关键词规则，请对照原话和录音核实）"]
    near = [n for n in explanation.get("neighbours") or [] if isinstance(n, Mapping)]
    if near:
        lines.append("与这些已标注例句相似：" + "；".join(
            f"“{n.get('text', '')}”（{_labels(n.get('labels') or [])}，相似度 {float(n.get('similarity') or 0):.2f}）"
            for n in near))
    for ex in explanation.get("examples") or []:
        if isinstance(ex, Mapping):
            lines.append(f"与您提供的例句相近：“{ex.get('text', '')}”（{_labels([ex.get('label')])}，"
                         f"相似度 {float(ex.get('similarity') or 0):.2f}，文件 {ex.get('file', '')}）")
    return lines


def flag_view(flag: Any) -> FlagView:
    data = _mapping(flag)
    extra = data.get("extra") or {}
    category = str(data["category"])
    style = category_style(category)
    rules = [str(r) for r in (data.get("rules") or []) if r]
    rule = str(_first(data, "rule") or (rules[0] if rules else ""))
    start_char = _char(data.get("start_char")) if data.get("start_char") is not None else _char(data.get("start"))
    end_char = _char(data.get("end_char")) if data.get("end_char") is not None else _char(data.get("end"))
    segment_index = _first(data, "segment_idx", "segment_index", "segment")
    level = data.get("level") or ("call" if segment_index is None else "segment")
    plain, technical = split_explanation(data.get("explanation"), {**extra, **data})
    return FlagView(
        category=category, label=style.label, colour=style.colour, rule=rule, rules=rules or [rule],
        id=data.get("id"), level=level, segment_index=segment_index,
        start_char=start_char, end_char=end_char,
        start_s=data.get("start_s"), end_s=data.get("end_s"),
        match=str(_first(data, "match_text", "match") or ""),
        severity=data.get("severity"), score=data.get("score"),
        legal_basis=[str(b) for b in data.get("legal_basis") or []],
        explanation=plain, technical=technical,
        speaker=data.get("speaker"), role=data.get("role"),
        speaker_unconfirmed=bool(data.get("speaker_unconfirmed")),
        status=data.get("status") or "pending", note=data.get("note"), stale=bool(data.get("stale")),
        call_id=data.get("call_id"), ref=data.get("pack_number"),
    )


def flag_views(flags: Iterable[Any]) -> list[FlagView]:
    """Views in page order: call-level flags first, then by segment and position."""
    views = [flag_view(f) for f in flags]
    return sorted(views, key=lambda v: (v.level != "call", v.segment_index if v.segment_index is not None else -1,
                                        v.start_char if v.start_char is not None else -1, -(v.severity or 0)))


def flag_runs(length: int, flagged: list[tuple[int, FlagView]]) -> Iterator[tuple[int, int, tuple[int, ...], FlagView | None]]:
    """Split ``length`` characters into runs covered by the same flags: (start, end, flag numbers,
    the view that colours the run — highest severity, then score — or None where no flag covers it).
    ``flagged`` is (number, view) with character spans."""
    views = dict(flagged)
    covering = [tuple(n for n, v in flagged if v.start_char <= i < v.end_char) for i in range(length)]
    i = 0
    while i < length:
        here = covering[i]
        j = i
        while j < length and covering[j] == here:
            j += 1
        main = max((views[n] for n in here), key=lambda v: (v.severity or 0, v.score or 0)) if here else None
        yield i, j, here, main
        i = j
