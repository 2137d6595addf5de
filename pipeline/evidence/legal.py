"""Which legal bases a pack cites, and how it names them: the version in force on the date of
the conduct (``pipeline.render.legal_bases``, data in configs/legal/bases.yaml).

TAXONOMY.md marks every basis V (article text read), N (several consistent reports) or S
(single secondary source). Pack text cites V and N as they are, an S version only with
"（待核实）"; an id the data does not know is left out rather than cited unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pipeline.render.legal_bases import (
    CITABLE,
    BasisVersion,
    basis_status,
    in_force,
    load_bases,
    version_by_id,
)

BASIS_STATUS: dict[str, str] = basis_status()

__all__ = ["BASIS_STATUS", "CITABLE", "basis_citation", "citable_bases", "conduct_day", "is_citable",
           "law_citations"]


def is_citable(basis_id: str) -> bool:
    """True when the id (or version id) is verified (V/N) for at least one date."""
    return BASIS_STATUS.get(basis_id) in CITABLE


def conduct_day(wall_time: str | None) -> date | None:
    """The local date of a 'YYYY-MM-DD HH:MM:SS' wall time (None when unknown)."""
    if not wall_time:
        return None
    try:
        return datetime.fromisoformat(wall_time[:19]).date()
    except ValueError:
        return None


def _versions(basis_ids: Iterable[str], day: date | None) -> list[BasisVersion]:
    found: dict[str, BasisVersion] = {}
    for basis in basis_ids:
        known = in_force(basis, day)
        if not known and (single := version_by_id(basis)) is not None and (day is None or single.applies(day)):
            known = [single]
        for version in known:
            found.setdefault(version.id, version)
    return list(found.values())


def citable_bases(basis_ids: Iterable[str], day: date | None = None) -> list[str]:
    """The version ids to cite for conduct on ``day`` (every version when unknown), in the given
    order, without repeats; unknown ids and bases not yet in force on that day are left out."""
    return [v.id for v in _versions(basis_ids, day)]


def basis_citation(version_id: str) -> str:
    """The instrument and article in Chinese, e.g. '刑法第246条 侮辱罪、诽谤罪'; an unverified
    article of a revised law ends with '（待核实）'."""
    version = version_by_id(version_id)
    return version.cited if version else version_id


def law_citations() -> dict[str, str]:
    """Every version id -> its citation as pack text shows it ('（待核实）' after an unverified one).

    For the articles a draft names itself rather than through a flag (the 行为保全 and remedy
    articles of a court filing): they apply to the filing, not to the date of the conduct."""
    return {version.id: version.cited for known in load_bases().values() for version in known}
