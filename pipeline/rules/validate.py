"""Checks of a parsed rule pack; every problem becomes a ``PackIssue`` with its line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.rules.gates import GATE_NAMES
from pipeline.rules.triggers import NotFinite, expand_trigger
from pipeline.rules.yaml_lines import LineList, LineMap, line_of

if TYPE_CHECKING:
    from pipeline.rules.pack import RulePack

TOP_KEYS = {"name", "version", "language", "description", "settings", "macros", "word_sets", "categories", "fuzzy", "rules"}
CATEGORY_KEYS = {"label", "legal_basis", "severity", "conduct", "gates", "description"}
RULE_KEYS = {
    "id", "category", "description", "severity", "score", "phrases", "tokens", "regex", "triggers",
    "context", "requires", "exclude", "exclude_sentence", "escalate", "gates",
}
FUZZY_KEYS = {"term", "exclude", "before", "near"}
SETTINGS_TYPES: dict[str, type] = {
    "context_window": int, "context_boost": float, "fuzzy_penalty": float, "near_fuzzy_penalty": float,
    "near_max_distance": float, "negation_window": int, "min_score": float,
}
CATEGORY_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
MACRO_REF = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class PackIssue:
    line: int
    zh: str
    en: str


@dataclass
class ValidationResult:
    """Plain values for the pack dataclasses, or ``issues`` when the pack is unusable."""

    issues: list[PackIssue] = field(default_factory=list)
    name: str = ""
    version: str = ""
    language: str = ""
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    word_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)
    fuzzy: list[dict[str, Any]] = field(default_factory=list)

    def error(self, line: int, zh: str, en: str) -> None:
        self.issues.append(PackIssue(line, zh, en))


def expand_macros(pattern: str, macros: dict[str, str]) -> str:
    """Replace ``{{name}}`` with ``(?:fragment)``; raises KeyError for an unknown name."""
    for _ in range(6):
        if "{{" not in pattern:
            break
        pattern = MACRO_REF.sub(lambda m: f"(?:{macros[m.group(1)]})", pattern)
    return pattern


def _strings(res: ValidationResult, parent: Any, key: str, *, required: bool = False) -> tuple[str, ...]:
    value = parent.get(key)
    line = line_of(parent, key)
    if value is None:
        if required:
            res.error(line, f"缺少 {key}", f"missing {key}")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) and str(v).strip() for v in value):
        res.error(line, f"{key} 应为非空字符串列表", f"{key} must be a list of non-empty strings")
        return ()
    return tuple(str(v) for v in value)


def _check_keys(res: ValidationResult, node: LineMap, allowed: set[str], where: str) -> None:
    for key in node:
        if key not in allowed:
            res.error(line_of(node, key), f"{where} 中有未知字段 {key!r}", f"unknown field {key!r} in {where}")
    for key, line in getattr(node, "duplicates", []):
        res.error(line, f"字段 {key!r} 重复", f"duplicate key {key!r}")


def _regex(res: ValidationResult, pattern: str, line: int, what: str) -> None:
    try:
        expanded = expand_macros(pattern, res.macros)
    except KeyError as exc:
        res.error(line, f"{what} 引用了未定义的宏 {exc.args[0]!r}", f"{what} uses undefined macro {exc.args[0]!r}")
        return
    try:
        compiled = re.compile(expanded)
    except re.error as exc:
        res.error(line, f"{what} 正则表达式错误: {exc.msg} ({pattern!r})", f"bad regular expression in {what}")
        return
    if compiled.match(""):
        res.error(line, f"{what} 正则可匹配空字符串 ({pattern!r})", f"{what} regex matches the empty string")


def _words(res: ValidationResult, words: tuple[str, ...], line: int, what: str) -> tuple[str, ...]:
    out: list[str] = []
    for word in words:
        if word.startswith("@"):
            if word[1:] not in res.word_sets:
                res.error(line, f"{what} 引用了未定义的词表 {word!r}", f"{what} uses undefined word set {word!r}")
                continue
            out.extend(res.word_sets[word[1:]])
        else:
            out.append(word)
    return tuple(dict.fromkeys(out))


def _gates(res: ValidationResult, node: LineMap, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if "gates" not in node:
        return default
    gates = _strings(res, node, "gates")
    bad = [g for g in gates if g not in GATE_NAMES]
    if bad:
        res.error(line_of(node, "gates"), f"未知的闸门 {', '.join(bad)}；可选 {', '.join(GATE_NAMES)}", "unknown gate")
    return gates


def _severity(res: ValidationResult, node: LineMap, key: str = "severity") -> int | None:
    value = node.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3:
        res.error(line_of(node, key), f"{key} 应为 1–3 的整数", f"{key} must be an integer 1-3")
        return None
    return value


def _validate_header(res: ValidationResult, data: LineMap) -> None:
    _check_keys(res, data, TOP_KEYS, "规则包")
    for key in ("name", "version", "language"):
        value = data.get(key)
        if value is None or not str(value).strip() or isinstance(value, dict | list):
            res.error(line_of(data, key, 1), f"缺少或无效的 {key}", f"missing or invalid {key}")
    res.name, res.version = str(data.get("name", "")), str(data.get("version", ""))
    res.language, res.description = str(data.get("language", "")), str(data.get("description", ""))
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        res.error(line_of(data, "settings"), "settings 应为映射", "settings must be a mapping")
        settings = {}
    for key, value in settings.items():
        kind = SETTINGS_TYPES.get(key)
        if kind is None:
            res.error(line_of(settings, key), f"未知设置 {key!r}", f"unknown setting {key!r}")
        elif not isinstance(value, int | float) or isinstance(value, bool) or (kind is int and not isinstance(value, int)):
            res.error(line_of(settings, key), f"设置 {key} 应为{'整数' if kind is int else '数字'}", f"setting {key} must be a number")
        else:
            res.settings[key] = kind(value)


def _validate_sets(res: ValidationResult, data: LineMap, base: tuple[RulePack, ...]) -> None:
    for pack in base:
        res.macros.update(pack.macros)
        res.word_sets.update(pack.word_sets)
    macros = data.get("macros") or {}
    if not isinstance(macros, dict):
        res.error(line_of(data, "macros"), "macros 应为映射", "macros must be a mapping")
        macros = {}
    for name, fragment in macros.items():
        if not isinstance(fragment, str) or not fragment:
            res.error(line_of(macros, name), f"宏 {name} 应为正则片段字符串", f"macro {name} must be a regex string")
        else:
            res.macros[str(name)] = fragment
    for name, fragment in macros.items():
        if isinstance(fragment, str) and fragment:
            _regex(res, fragment, line_of(macros, name), f"宏 {name}")
    word_sets = data.get("word_sets") or {}
    if not isinstance(word_sets, dict):
        res.error(line_of(data, "word_sets"), "word_sets 应为映射", "word_sets must be a mapping")
        word_sets = {}
    for name in word_sets:
        res.word_sets[str(name)] = _strings(res, word_sets, name)


def _validate_categories(res: ValidationResult, data: LineMap, known: dict[str, int]) -> None:
    categories = data.get("categories") or {}
    if not isinstance(categories, dict):
        res.error(line_of(data, "categories"), "categories 应为映射", "categories must be a mapping")
        return
    for code, node in categories.items():
        line = line_of(categories, code)
        if not isinstance(code, str) or not CATEGORY_CODE.match(code):
            res.error(line, f"类别代码 {code!r} 应为大写字母/数字/下划线", "category code must be UPPER_SNAKE")
            continue
        if code in known:
            res.error(line, f"类别 {code} 已在其他规则包中定义", f"category {code} already defined by another pack")
        if not isinstance(node, LineMap):
            res.error(line, f"类别 {code} 应为映射", f"category {code} must be a mapping")
            continue
        _check_keys(res, node, CATEGORY_KEYS, f"类别 {code}")
        label = node.get("label")
        if not isinstance(label, str) or not label.strip():
            res.error(line, f"类别 {code} 缺少中文名称 label", f"category {code} needs a label")
        severity = _severity(res, node)
        if "severity" not in node:
            res.error(line, f"类别 {code} 缺少 severity", f"category {code} needs a severity")
        conduct = node.get("conduct", True)
        if not isinstance(conduct, bool):
            res.error(line_of(node, "conduct"), "conduct 应为 true/false", "conduct must be a boolean")
        res.categories[code] = {
            "code": code, "label": str(label or ""), "legal_basis": _strings(res, node, "legal_basis", required=True),
            "severity": severity or 2, "conduct": bool(conduct), "gates": _gates(res, node, GATE_NAMES),
        }


def _validate_rule(res: ValidationResult, node: Any, line: int, seen: dict[str, int], categories: set[str]) -> None:
    if not isinstance(node, LineMap):
        res.error(line, "规则应为映射", "a rule must be a mapping")
        return
    _check_keys(res, node, RULE_KEYS, "规则")
    rule_id = node.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        res.error(line, f"规则 id {rule_id!r} 无效（小写字母、数字、. _ -）", "rule id must be lowercase [a-z0-9._-]")
        rule_id = str(rule_id)
    elif rule_id in seen:
        res.error(line, f"规则 id {rule_id} 重复（第 {seen[rule_id]} 行）", f"duplicate rule id {rule_id}")
    seen[rule_id] = line
    category = node.get("category")
    if category not in categories:
        res.error(line_of(node, "category", line), f"规则 {rule_id} 的类别 {category!r} 未定义", f"rule {rule_id}: unknown category")
    score = node.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 < score <= 1:
        res.error(line_of(node, "score", line), f"规则 {rule_id} 的 score 应在 (0, 1] 之间", "score must be in (0, 1]")
        score = 0.5
    phrases, regexes = _strings(res, node, "phrases"), _strings(res, node, "regex")
    tokens = node.get("tokens") or []
    if not isinstance(tokens, list) or not all(isinstance(p, list) and p and all(isinstance(t, dict) for t in p) for p in tokens):
        res.error(line_of(node, "tokens", line), "tokens 应为 spaCy 模式列表（每个模式是字典列表）", "tokens must be a list of spaCy patterns")
        tokens = []
    if not (phrases or regexes or tokens):
        res.error(line, f"规则 {rule_id} 至少需要 phrases、tokens 或 regex 之一", "a rule needs phrases, tokens or regex")
    triggers = _triggers(res, node, rule_id, line)
    if (regexes or tokens) and not triggers:
        res.error(line, f"规则 {rule_id} 有 regex/tokens，必须给出 triggers（预筛选用的字面词）", "regex/tokens rules need triggers")
    for i, pattern in enumerate(node.get("regex") or []):
        if isinstance(pattern, str):
            _regex(res, pattern, line_of(node["regex"], i, line), f"规则 {rule_id} 的 regex")
    excludes = {key: _strings(res, node, key) for key in ("exclude", "exclude_sentence")}
    for key, patterns in excludes.items():
        for i, pattern in enumerate(patterns):
            _regex(res, pattern, line_of(node[key], i, line) if isinstance(node[key], LineList) else line, f"规则 {rule_id} 的 {key}")
    for i, pattern in enumerate(tokens):
        _token_pattern(res, pattern, line_of(node["tokens"], i, line), rule_id)
    escalate = node.get("escalate", LineMap())
    if not isinstance(escalate, LineMap) or not set(escalate) <= {"words", "severity"}:
        res.error(line_of(node, "escalate", line), "escalate 应为 {words: [...], severity: 1-3}", "escalate must be {words, severity}")
        escalate = LineMap()
    res.rules.append({
        "id": rule_id, "category": str(category), "score": float(score), "severity": _severity(res, node),
        "description": str(node.get("description", "")), "phrases": phrases, "tokens": tuple(tokens),
        "regex": tuple(expand_macros(p, res.macros) for p in regexes if _expandable(p, res.macros)),
        "triggers": triggers,
        "context": _words(res, _strings(res, node, "context"), line_of(node, "context", line), "context"),
        "requires": _words(res, _strings(res, node, "requires"), line_of(node, "requires", line), "requires"),
        "exclude": tuple(expand_macros(p, res.macros) for p in excludes["exclude"] if _expandable(p, res.macros)),
        "exclude_sentence": tuple(
            expand_macros(p, res.macros) for p in excludes["exclude_sentence"] if _expandable(p, res.macros)
        ),
        "escalate_words": _words(res, _strings(res, escalate, "words"), line_of(node, "escalate", line), "escalate"),
        "escalate_severity": _severity(res, escalate) or 3,
        "gates": _gates(res, node, None), "line": line,
    })


def _triggers(res: ValidationResult, node: LineMap, rule_id: str, line: int) -> tuple[str, ...]:
    words: list[str] = []
    patterns = _strings(res, node, "triggers")
    for i, pattern in enumerate(patterns):
        where = line_of(node["triggers"], i, line) if isinstance(node["triggers"], LineList) else line
        try:
            words.extend(sorted(expand_trigger(expand_macros(pattern, res.macros))))
        except KeyError as exc:
            res.error(where, f"规则 {rule_id} 的 trigger 引用了未定义的宏 {exc.args[0]!r}", "trigger uses undefined macro")
        except (NotFinite, re.error) as exc:
            res.error(where, f"规则 {rule_id} 的 trigger {pattern!r} 不是有限的字面词模式 ({exc})", "trigger must be a finite pattern")
    return tuple(dict.fromkeys(words))


def _expandable(pattern: str, macros: dict[str, str]) -> bool:
    try:
        expand_macros(pattern, macros)
    except KeyError:
        return False
    return True


def _token_pattern(res: ValidationResult, pattern: list[dict[str, Any]], line: int, rule_id: str) -> None:
    from spacy.errors import MatchPatternError
    from spacy.matcher import Matcher

    from pipeline.rules.matcher import blank_zh

    matcher = Matcher(blank_zh().vocab, validate=True)
    try:
        matcher.add(rule_id, [pattern])
    except (MatchPatternError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:160]
        res.error(line, f"规则 {rule_id} 的 spaCy 模式无效: {reason}", "invalid spaCy token pattern")


def _validate_fuzzy(res: ValidationResult, data: LineMap) -> None:
    fuzzy = data.get("fuzzy") or []
    if not isinstance(fuzzy, list):
        res.error(line_of(data, "fuzzy"), "fuzzy 应为列表", "fuzzy must be a list")
        return
    for i, node in enumerate(fuzzy):
        line = line_of(fuzzy, i)
        if isinstance(node, str):
            node = LineMap(term=node)
        if not isinstance(node, LineMap):
            res.error(line, "fuzzy 项应为词或映射", "fuzzy entry must be a term or mapping")
            continue
        _check_keys(res, node, FUZZY_KEYS, "fuzzy")
        term = node.get("term")
        before = node.get("before")
        if not isinstance(term, str) or len(term) < 2 or not all("\u4e00" <= ch <= "\u9fff" for ch in term):
            res.error(line, f"fuzzy 词 {term!r} 应为至少两个汉字", "fuzzy term must be 2+ CJK characters")
            continue
        if len(term) == 2 and not before:
            res.error(line, f"两字 fuzzy 词 {term} 需要 before（前文条件）以免误报", "two-character fuzzy terms need `before`")
        if before is not None:
            _regex(res, str(before), line, f"fuzzy {term} 的 before")
        near = node.get("near")
        if near is not None and (isinstance(near, bool) or not isinstance(near, int | float) or near < 0):
            res.error(line, f"fuzzy 词 {term} 的 near 应为不小于 0 的数字", "fuzzy `near` must be a number >= 0")
            near = None
        res.fuzzy.append({"term": term, "exclude": _strings(res, node, "exclude"), "before": before,
                          "near": None if near is None else float(near), "line": line})


def validate_pack(data: Any, base: tuple[RulePack, ...] | list[RulePack] = ()) -> ValidationResult:
    """Check a parsed pack against the schema; ``base`` packs are the packs loaded before it."""
    res = ValidationResult()
    base = tuple(base)
    if not isinstance(data, LineMap):
        res.error(1, "规则包应为 YAML 映射", "a rule pack must be a YAML mapping")
        return res
    _validate_header(res, data)
    _validate_sets(res, data, base)
    known = {code: 0 for pack in base for code in pack.categories}
    _validate_categories(res, data, known)
    _validate_fuzzy(res, data)
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        res.error(line_of(data, "rules", 1), "缺少 rules 列表", "missing rules list")
        return res
    seen = {rule.id: rule.line for pack in base for rule in pack.rules}
    categories = set(known) | set(res.categories)
    for i, node in enumerate(rules):
        _validate_rule(res, node, line_of(rules, i), seen, categories)
    return res
