"""Fixtures for the rule-engine tests: one engine (default pack) for the whole session."""

from __future__ import annotations

import pytest

from pipeline.rules import RuleEngine, load_engine


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return load_engine()
