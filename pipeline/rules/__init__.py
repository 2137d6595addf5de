"""Rule engine: YAML rule packs -> explained flags over Chinese transcripts.

    engine = load_engine()                      # configs/rules/zh-collection.yaml
    engine.flag_text("不还钱就爆你通讯录")         # -> [Flag(category="CONTACTS_BLAST", ...)]
    engine.flag_segments(transcript.segments)   # flags with segment index, seconds, speaker
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.rules.flag import Flag, merge_flags
from pipeline.rules.pack import Category, PackError, Rule, RulePack, load_pack

if TYPE_CHECKING:
    from pipeline.rules.engine import RuleEngine

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_PACK = PROJECT_ROOT / "configs" / "rules" / "zh-collection.yaml"

__all__ = [
    "DEFAULT_PACK", "Category", "Flag", "PackError", "Rule", "RuleEngine", "RulePack",
    "load_engine", "load_packs", "load_pack", "merge_flags",
]


def load_packs(extra_packs: Sequence[Path | str] = (), *, default: Path | None = DEFAULT_PACK) -> list[RulePack]:
    """The default pack (unless ``default`` is None) followed by ``extra_packs``, each validated."""
    packs: list[RulePack] = []
    for path in ([default] if default is not None else []) + [Path(p) for p in extra_packs]:
        packs.append(load_pack(path, base=packs))
    return packs


def __getattr__(name: str) -> Any:
    # RuleEngine pulls in spaCy (seconds to import); `from pipeline.rules import Flag` should not
    if name == "RuleEngine":
        from pipeline.rules.engine import RuleEngine

        return RuleEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@lru_cache(maxsize=8)
def _cached_engine(paths: tuple[str, ...], stamps: tuple[float, ...]) -> RuleEngine:
    from pipeline.rules.engine import RuleEngine

    return RuleEngine(load_packs(paths[1:], default=Path(paths[0])))


def load_engine(extra_packs: Sequence[Path | str] = ()) -> RuleEngine:
    """The engine for the default pack plus ``extra_packs``; built once per set of (unchanged) files.

    Raises ``PackError`` (a ``ConfigError``) with line-numbered reasons for an invalid pack.
    """
    paths = tuple(str(Path(p).resolve()) for p in [DEFAULT_PACK, *extra_packs])
    stamps = tuple(Path(p).stat().st_mtime if Path(p).exists() else -1.0 for p in paths)
    return _cached_engine(paths, stamps)
