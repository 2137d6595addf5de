"""Legal bases with their versions, read from configs/legal/bases.yaml (data, not code).

A basis id (PSL-42) names a rule of conduct; each version is the text in force for a span of
dates. ``in_force(basis_id, day)`` gives the version that applies to conduct on ``day``; with no
known day, every version (each says from when it applies). Only V/N versions are cited as they
are; an S version is cited with "（待核实）" (TAXONOMY.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import yaml

from pipeline.config import PROJECT_ROOT

BASES_FILE = PROJECT_ROOT / "configs" / "legal" / "bases.yaml"
CITABLE = frozenset({"V", "N"})
UNVERIFIED = "（待核实）"


@dataclass(frozen=True)
class BasisVersion:
    basis: str  # the id rule packs use (PSL-42)
    id: str  # this version's id (PSL-2025-50); the basis id for a basis with one version
    citation: str  # instrument and article in Chinese
    status: str  # V | N | S
    valid_from: date | None
    valid_to: date | None  # inclusive

    def applies(self, day: date) -> bool:
        return (self.valid_from is None or day >= self.valid_from) and (self.valid_to is None or day <= self.valid_to)

    @property
    def verified(self) -> bool:
        return self.status in CITABLE

    @property
    def cited(self) -> str:
        """The citation as pack text shows it: '（待核实）' after an unverified article."""
        return self.citation if self.verified else self.citation + UNVERIFIED

    def span(self) -> str:
        """'2026年1月1日起' / '2025年12月31日前' / '' (always), for a citation whose date is unknown."""
        if self.valid_to is not None:
            return f"{_zh(self.valid_to)}前的行为"
        if self.valid_from is not None:
            return f"{_zh(self.valid_from)}起的行为"
        return ""


def _zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _day(value: object) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@cache
def load_bases(path: Path = BASES_FILE) -> dict[str, tuple[BasisVersion, ...]]:
    """basis id -> its versions, oldest first."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, tuple[BasisVersion, ...]] = {}
    for basis, versions in (data.get("bases") or {}).items():
        parsed = [BasisVersion(str(basis), str(v.get("id") or basis), str(v["citation"]), str(v["status"]),
                               _day(v.get("from")), _day(v.get("to"))) for v in versions]
        out[str(basis)] = tuple(sorted(parsed, key=lambda v: v.valid_from or date.min))
    return out


def versions(basis_id: str) -> tuple[BasisVersion, ...]:
    return load_bases().get(basis_id, ())


def in_force(basis_id: str, day: date | None) -> list[BasisVersion]:
    """The version(s) of ``basis_id`` that apply to conduct on ``day``: one, or none when the
    rule did not exist yet; every version when ``day`` is unknown; [] for an unknown id."""
    known = versions(basis_id)
    if day is None:
        return list(known)
    return [v for v in known if v.applies(day)]


def version_by_id(version_id: str) -> BasisVersion | None:
    for known in load_bases().values():
        for version in known:
            if version.id == version_id:
                return version
    return None


def basis_status() -> dict[str, str]:
    """Every basis and version id -> its status (the newest version's for a basis id)."""
    out: dict[str, str] = {}
    for basis, known in load_bases().items():
        for version in known:
            out[version.id] = version.status
        out.setdefault(basis, known[-1].status)
    return out


def basis_label(basis_id: str) -> str:
    """A basis for a person who does not know the date: each version with the dates it covers."""
    known = versions(basis_id) or ((version_by_id(basis_id),) if version_by_id(basis_id) else ())
    if not known:
        return basis_id
    if len(known) == 1:
        return known[0].cited
    return "；".join(f"{v.span()}：{v.cited}" for v in known)
