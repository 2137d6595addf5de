"""Which legal bases a pack may cite, and how it names them.

TAXONOMY.md marks every basis id V (article text read), N (several consistent reports) or S
(single secondary source). User-facing pack text (evidence list, complaint drafts) cites only
V and N; an S basis or an id the table does not know is left out rather than cited unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.render.categories import LEGAL_BASIS_LABELS

# Copied from ../shared/design/TAXONOMY.md ("Legal basis ids"); update both together.
BASIS_STATUS: dict[str, str] = {
    "CL-293-1": "V", "CL-293": "V", "CL-253-1": "V", "CL-246": "V", "CL-274": "V", "CL-279": "V",
    "CL-280": "V", "PSL-42": "V", "PSL-51": "V", "PSL-2025-50": "S",
    "CC-1024": "V", "CC-1032": "V", "CC-1033": "V", "CC-1034": "V", "CC-1038": "V",
    "PIPL-10": "V", "PIPL-13": "V", "PIPL-23": "V", "PIPL-25": "V",
    "GBT-45251": "N", "CBA-2026": "N", "SV-2019": "N", "CPM-41": "N",
}  # fmt: skip
CITABLE = frozenset({"V", "N"})


def is_citable(basis_id: str) -> bool:
    return BASIS_STATUS.get(basis_id) in CITABLE


def citable_bases(basis_ids: Iterable[str]) -> list[str]:
    """The ids that may be cited, in their given order, without repeats."""
    return [b for b in dict.fromkeys(basis_ids) if is_citable(b)]


def basis_citation(basis_id: str) -> str:
    """The instrument and article in Chinese, e.g. '刑法第246条 侮辱罪、诽谤罪'."""
    return LEGAL_BASIS_LABELS.get(basis_id, basis_id)
