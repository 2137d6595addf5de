"""User-taught example sentences (``--examples my.yaml``): the model tier's extra exemplars.

Same shape as ``shared/data/detect_dev/exemplars.yaml``: a mapping from a category code (or ``NEG``,
sentences that must not be flagged) to a list of sentences::

    CONTACTS_BLAST:
    - 我们准备给你的联系人做个科普
    NEG:
    - 上门维修的师傅下午到

A sentence scored by the model tier that is very close to a user example of a category is flagged
with that category (the example is named in the explanation); one very close to a ``NEG`` example
is not flagged by the model tier.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.rules.yaml_lines import LineList, LineMap, line_of, load_yaml_with_lines

NEG = "NEG"
MAX_CHARS = 200


@dataclass(frozen=True)
class ExampleIssue:
    line: int
    zh: str
    en: str


class ExamplesError(ConfigError):
    """An examples file that cannot be used; ``issues`` holds every problem with its line."""

    def __init__(self, path: str | Path, issues: list[ExampleIssue]) -> None:
        self.path = str(path)
        self.issues = issues
        first = issues[0]
        more = f"；另有 {len(issues) - 1} 处问题" if len(issues) > 1 else ""
        super().__init__(f"{self.path}:{first.line}: {first.zh} ({first.en}){more}")

    def lines(self) -> list[str]:
        return [f"{self.path}:{i.line}: {i.zh} ({i.en})" for i in self.issues]


@dataclass
class ExampleSet:
    path: Path
    sha256: str
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def info(self) -> dict[str, str]:
        return {"name": f"examples:{self.path.name}", "version": str(len(self.texts)), "sha256": self.sha256,
                "path": str(self.path)}


def load_examples(path: str | Path, categories: set[str] | frozenset[str]) -> ExampleSet:
    """Read and validate an examples YAML; raises ``ExamplesError`` listing every problem with its line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExamplesError(path, [ExampleIssue(0, f"无法读取例句文件: {exc.strerror or exc}", "cannot read examples file")]) from exc
    try:
        data = load_yaml_with_lines(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ExamplesError(path, [ExampleIssue(0, "例句文件不是 UTF-8 文本", "examples file is not UTF-8 text")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ExamplesError(path, [ExampleIssue(mark.line + 1 if mark else 0, f"YAML 语法错误: {problem}",
                                                "YAML syntax error")]) from exc
    issues: list[ExampleIssue] = []
    out = ExampleSet(path=path.resolve(), sha256=hashlib.sha256(raw).hexdigest())
    if not isinstance(data, LineMap) or not data:
        raise ExamplesError(path, [ExampleIssue(getattr(data, "line", 1) or 1, "顶层应为 类别: [例句…] 的映射",
                                                "top level must map category codes to lists of sentences")])
    for key, line in data.duplicates:
        issues.append(ExampleIssue(line, f"类别 {key} 重复出现", f"duplicate category {key}"))
    seen: dict[str, int] = {}
    for code, items in data.items():
        key_line = line_of(data, code)
        if code != NEG and code not in categories:
            issues.append(ExampleIssue(key_line, f"未知类别 {code}（可用: {', '.join(sorted(categories))}, NEG）",
                                       f"unknown category {code}"))
            continue
        if not isinstance(items, LineList) or not items:
            issues.append(ExampleIssue(key_line, f"{code} 下应为非空的例句列表", f"{code} must be a non-empty list of sentences"))
            continue
        for index, text in enumerate(items):
            line = line_of(items, index, key_line)
            if not isinstance(text, str) or not text.strip():
                issues.append(ExampleIssue(line, "例句应为非空文本", "an example must be a non-empty string"))
                continue
            text = text.strip()
            if "\n" in text or len(text) > MAX_CHARS:
                issues.append(ExampleIssue(line, f"例句应为一行且不超过 {MAX_CHARS} 字", f"an example must be one line of at most {MAX_CHARS} characters"))
                continue
            if text in seen:
                issues.append(ExampleIssue(line, f"例句与第 {seen[text]} 行重复", f"duplicate of line {seen[text]}"))
                continue
            seen[text] = line
            out.texts.append(text)
            out.labels.append(code)
    if issues:
        raise ExamplesError(path, sorted(issues, key=lambda i: i.line))
    return out
