"""Rule packs: the YAML data the engine runs (categories, rules, fuzzy terms, settings).

``load_pack`` validates a pack and raises ``PackError`` listing every problem with its line.
Regexes may use ``{{macro}}`` fragments from the pack's ``macros``; word lists
(``context``/``requires``/``escalate.words``) may use ``@set`` names from ``word_sets``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from pipeline.rules.gates import GATE_NAMES
from pipeline.rules.validate import PackIssue, validate_pack
from pipeline.rules.yaml_lines import load_yaml_with_lines


@dataclass(frozen=True)
class Settings:
    context_window: int = 24
    context_boost: float = 0.1
    fuzzy_penalty: float = 0.2
    near_fuzzy_penalty: float = 0.3
    near_max_distance: float = 0.6
    negation_window: int = 8
    min_score: float = 0.3


@dataclass(frozen=True)
class Category:
    code: str
    label: str
    legal_basis: tuple[str, ...]
    severity: int
    conduct: bool = True
    gates: tuple[str, ...] = GATE_NAMES
    pack: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    score: float
    severity: int | None = None
    description: str = ""
    phrases: tuple[str, ...] = ()
    tokens: tuple[Any, ...] = ()
    regex: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exclude_sentence: tuple[str, ...] = ()
    escalate_words: tuple[str, ...] = ()
    escalate_severity: int = 3
    gates: tuple[str, ...] | None = None
    line: int = 0
    pack: str = ""


@dataclass(frozen=True)
class FuzzyTerm:
    term: str
    exclude: tuple[str, ...] = ()
    before: str | None = None
    near: float | None = None  # this term's maximum near-homophone distance (0: homophones only)
    line: int = 0


@dataclass
class RulePack:
    name: str
    version: str
    language: str
    path: Path
    sha256: str
    categories: dict[str, Category]
    rules: list[Rule]
    fuzzy: list[FuzzyTerm] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    word_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def info(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "path": str(self.path)}


class PackError(ConfigError):
    """A rule pack that cannot be used; ``issues`` holds every problem with its line."""

    def __init__(self, path: str | Path, issues: list[PackIssue]) -> None:
        self.path = str(path)
        self.issues = issues
        first = issues[0] if issues else PackIssue(0, "规则包无效", "invalid rule pack")
        more = f"；另有 {len(issues) - 1} 处问题" if len(issues) > 1 else ""
        super().__init__(f"{self.path}:{first.line}: {first.zh} ({first.en}){more}")

    def lines(self) -> list[str]:
        return [f"{self.path}:{i.line}: {i.zh} ({i.en})" for i in self.issues]


def load_pack(path: str | Path, base: list[RulePack] | tuple[RulePack, ...] = ()) -> RulePack:
    """Read and validate one pack; ``base`` packs provide categories, word sets and rule ids it may use."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PackError(path, [PackIssue(0, f"无法读取规则包: {exc.strerror or exc}", "cannot read rule pack")]) from exc
    try:
        text = raw.decode("utf-8")
        data = load_yaml_with_lines(text)
    except UnicodeDecodeError as exc:
        raise PackError(path, [PackIssue(0, "规则包不是 UTF-8 文本", "rule pack is not UTF-8 text")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PackError(path, [PackIssue(line, f"YAML 语法错误: {problem}", "YAML syntax error")]) from exc
    result = validate_pack(data, base)
    if result.issues:
        raise PackError(path, result.issues)
    return RulePack(
        name=result.name,
        version=result.version,
        language=result.language,
        path=path.resolve(),
        sha256=hashlib.sha256(raw).hexdigest(),
        categories={code: Category(**{**vars_, "pack": result.name}) for code, vars_ in result.categories.items()},
        rules=[Rule(**{**vars_, "pack": result.name}) for vars_ in result.rules],
        fuzzy=[FuzzyTerm(**vars_) for vars_ in result.fuzzy],
        settings=Settings(**result.settings),
        word_sets=result.word_sets,
        macros=result.macros,
        description=result.description,
    )
