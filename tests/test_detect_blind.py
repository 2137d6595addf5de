"""Format checks for the frozen blind detection sets (data/detect/blind/blind.tsv, blind_v2.tsv).

Validates only the files themselves (and that none of their lines is in the training corpus or the
dev set); it never trains, tunes or runs a model.
"""

import collections
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

DETECT = Path(__file__).resolve().parent.parent / "data" / "detect"
BLIND_DIR = DETECT / "blind"
README = BLIND_DIR / "README.md"

HEADER = ["text", "labels", "register", "source"]
CODES = {
    "CONTACTS_BLAST", "THIRD_PARTY_CONTACT", "THIRD_PARTY_DISCLOSURE", "VIOLENCE_THREAT",
    "HOME_WORK_VISIT", "FALSE_LEGAL", "IMPERSONATION", "INSULT", "OBSCENE", "EXPOSURE",
    "FORCED_BORROW",
}
POS_REGISTERS = {
    "blunt", "euphemistic", "indirect", "dialect-chuanyu", "dialect-yue", "dialect-dongbei",
    "dialect-wu", "dialect-other", "sms", "wechat", "runon", "asr", "quote",
}
NEG_REGISTERS = {
    "compliant", "negated", "hypothetical", "borrower", "retelling", "everyday", "service", "guarantor",
}


@dataclass(frozen=True)
class BlindSet:
    file: str
    source: str
    min_lines: int
    min_pos: int
    min_neg: int
    min_per_code: int


SETS = [BlindSet("blind.tsv", "written:blind-author", 360, 220, 140, 20),
        BlindSet("blind_v2.tsv", "written:blind2-author", 280, 180, 90, 12)]


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    return [line.split("\t") for line in lines[:-1]]


@pytest.fixture(scope="module", params=SETS, ids=[s.file for s in SETS])
def blind(request: pytest.FixtureRequest) -> tuple[BlindSet, list[list[str]]]:
    return request.param, _rows(BLIND_DIR / request.param.file)


def test_header(blind: tuple[BlindSet, list[list[str]]]) -> None:
    assert blind[1][0] == HEADER


def test_every_row_has_four_clean_fields(blind: tuple[BlindSet, list[list[str]]]) -> None:
    spec, rows = blind
    for n, row in enumerate(rows[1:], start=2):
        assert len(row) == 4, f"line {n}: {len(row)} fields (a tab inside the text?)"
        text = row[0]
        assert text == text.strip() and text, f"line {n}: empty or padded text"
        assert "\r" not in text, f"line {n}: carriage return"
        assert row[3] == spec.source, f"line {n}: source {row[3]!r}"


def test_labels_and_registers_valid(blind: tuple[BlindSet, list[list[str]]]) -> None:
    for n, (_text, labels, register, _src) in enumerate(blind[1][1:], start=2):
        if labels == "NEG":
            assert register in NEG_REGISTERS, f"line {n}: NEG with register {register!r}"
            continue
        codes = labels.split(",")
        assert len(codes) == len(set(codes)), f"line {n}: repeated code"
        assert set(codes) <= CODES, f"line {n}: unknown code in {labels!r}"
        assert register in POS_REGISTERS, f"line {n}: positive with register {register!r}"


def test_counts_meet_minimums(blind: tuple[BlindSet, list[list[str]]]) -> None:
    spec, rows = blind
    data = rows[1:]
    pos = [r for r in data if r[1] != "NEG"]
    neg = [r for r in data if r[1] == "NEG"]
    assert len(data) >= spec.min_lines
    assert len(pos) >= spec.min_pos
    assert len(neg) >= spec.min_neg
    per_code = collections.Counter(c for r in pos for c in r[1].split(","))
    for code in CODES:
        assert per_code[code] >= spec.min_per_code, f"{code}: {per_code[code]} < {spec.min_per_code}"


def test_no_duplicate_texts(blind: tuple[BlindSet, list[list[str]]]) -> None:
    texts = [r[0] for r in blind[1][1:]]
    dups = [t for t, c in collections.Counter(texts).items() if c > 1]
    assert not dups, dups


@pytest.fixture(scope="module")
def trained_or_tuned() -> set[str]:
    """Every text training reads (its own reader: the corpus and the detect_dev exemplars) and the dev set."""
    from tools.train_detector import read_corpus

    corpus = {row["text"] for row in read_corpus(with_exemplars=True)}
    assert len(corpus) > 10_000  # the reader found the corpus: no vacuous pass
    return corpus | {row[0] for row in _rows(DETECT / "dev" / "dev.tsv")[1:]}


def test_no_line_is_in_the_training_corpus_or_the_dev_set(blind: tuple[BlindSet, list[list[str]]],
                                                          trained_or_tuned: set[str]) -> None:
    leaked = [r[0] for r in blind[1][1:] if r[0] in trained_or_tuned]
    assert not leaked, leaked


def test_no_real_looking_phone_numbers(blind: tuple[BlindSet, list[list[str]]]) -> None:
    # Invented data only: any 11-digit mobile number must be a placeholder (all zeros after the prefix).
    for n, row in enumerate(blind[1][1:], start=2):
        for num in re.findall(r"1[3-9]\d{9}", row[0]):
            assert set(num[3:]) == {"0"}, f"line {n}: phone-like number {num}"


def test_readme_records_current_hash(blind: tuple[BlindSet, list[list[str]]]) -> None:
    digest = hashlib.sha256((BLIND_DIR / blind[0].file).read_bytes()).hexdigest()
    assert digest in README.read_text(encoding="utf-8"), f"{blind[0].file} changed after it was frozen"
