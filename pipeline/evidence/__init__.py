"""The evidence pack: ``export`` a reviewed case to a zip, ``verify`` a pack (see EVIDENCE.md).

Modules: ``select`` (what goes in), ``excerpts`` (lossless clips at the original rate),
``call_files`` (per-call HTML/JSON/TXT, timeline.csv), ``docx`` (证据目录), ``complaints``
(Jinja2 drafts and README), ``redact``, ``manifest``, ``zipfiles`` (reproducible zips),
``pack`` (export), ``verify``.
"""

from __future__ import annotations

from pipeline.evidence.pack import ExportResult, export_pack
from pipeline.evidence.select import PackOptions
from pipeline.evidence.verify import VerifyReport, safe_extract, verify_pack

__all__ = ["ExportResult", "PackOptions", "VerifyReport", "export_pack", "safe_extract", "verify_pack"]
