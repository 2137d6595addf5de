"""Detection in two tiers behind one interface: rules (``pipeline.rules``) and a trained model.

    detector = load_detector("both")                   # rules + model (configs/detect/detector.json)
    detector.flag_text("我们准备给你的联系人做个科普")     # -> [Flag(category="CONTACTS_BLAST", rules=["model.use.v4"])]
    detector.flag_segments(transcript.segments)

``mode``: "rules" (exactly the rule engine's flags), "model" (model tier only), "both" (default).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pipeline.detect.artifact import DEFAULT_ARTIFACT
from pipeline.detect.detector import MODES, Detector
from pipeline.rules import load_engine

__all__ = ["DEFAULT_ARTIFACT", "MODES", "Detector", "load_detector", "load_model_tier"]


def default_threads() -> int:
    """Encoder threads: CALLPROOF_DETECT_THREADS, else every core (``run`` passes 1 beside ASR workers)."""
    env = os.environ.get("CALLPROOF_DETECT_THREADS")
    return int(env) if env and env.isdigit() and int(env) > 0 else max(1, os.cpu_count() or 1)


@lru_cache(maxsize=4)
def _cached_model(artifact: str, stamp: float, examples: tuple[str, ...], threads: int, categories: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from pipeline.detect.artifact import load_artifact
    from pipeline.detect.encoder import load_encoders
    from pipeline.detect.examples import load_examples
    from pipeline.detect.model_tier import ModelTier

    engine = load_engine()
    art = load_artifact(artifact)
    encoders = load_encoders(art.meta["encoders"], threads=threads)
    sets = [load_examples(p, frozenset(categories)) for p in examples]
    return ModelTier(art, encoders, engine.categories, sets)


def load_model_tier(artifact: Path | str = DEFAULT_ARTIFACT, examples: Sequence[Path | str] = (),
                    threads: int | None = None, categories: Sequence[str] = ()):  # type: ignore[no-untyped-def]
    """The model tier (cached per artefact, example files and thread count)."""
    path = Path(artifact).resolve()
    stamp = path.stat().st_mtime if path.exists() else -1.0
    cats = tuple(categories) or tuple(load_engine().categories)
    return _cached_model(str(path), stamp, tuple(str(Path(p).resolve()) for p in examples), threads or default_threads(), cats)


def load_detector(mode: str = "both", extra_packs: Sequence[Path | str] = (), examples: Sequence[Path | str] = (),
                  *, artifact: Path | str = DEFAULT_ARTIFACT, threads: int | None = None) -> Detector:
    """Rule engine (default pack + ``extra_packs``) and, unless mode is "rules", the model tier.

    Raises ``ConfigError`` (one line) for a bad pack, a missing or tampered artefact or encoder, a bad examples file.
    """
    engine = load_engine(extra_packs)
    model = None
    if mode != "rules":
        model = load_model_tier(artifact, examples, threads, tuple(engine.categories))
        model.categories = engine.categories
    return Detector(engine, model, mode)
