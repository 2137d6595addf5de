"""Format checks for the frozen blind detection set (data/detect/blind/blind.tsv).

Validates only the file itself; it never trains, tunes or runs a model.
"""

import collections
import hashlib
import re
from pathlib import Path

import pytest

BLIND_DIR = Path(__file__).resolve().parent.parent / "data" / "detect" / "blind"
BLIND = BLIND_DIR / "blind.tsv"
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
MIN_LINES, MIN_POS, MIN_NEG, MIN_PER_CODE = 360, 220, 140, 20


def _rows() -> list[list[str]]:
    lines = BLIND.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    return [line.split("\t") for line in lines[:-1]]


@pytest.fixture(scope="module")
def rows() -> list[list[str]]:
    return _rows()


def test_header(rows: list[list[str]]) -> None:
    assert rows[0] == HEADER


def test_every_row_has_four_clean_fields(rows: list[list[str]]) -> None:
    for n, row in enumerate(rows[1:], start=2):
        assert len(row) == 4, f"line {n}: {len(row)} fields (a tab inside the text?)"
        text = row[0]
        assert text == text.strip() and text, f"line {n}: empty or padded text"
        assert "\r" not in text, f"line {n}: carriage return"
        assert row[3] == "written:blind-author", f"line {n}: source {row[3]!r}"


def test_labels_and_registers_valid(rows: list[list[str]]) -> None:
    for n, (_text, labels, register, _src) in enumerate(rows[1:], start=2):
        if labels == "NEG":
            assert register in NEG_REGISTERS, f"line {n}: NEG with register {register!r}"
            continue
        codes = labels.split(",")
        assert len(codes) == len(set(codes)), f"line {n}: repeated code"
        assert set(codes) <= CODES, f"line {n}: unknown code in {labels!r}"
        assert register in POS_REGISTERS, f"line {n}: positive with register {register!r}"


def test_counts_meet_minimums(rows: list[list[str]]) -> None:
    data = rows[1:]
    pos = [r for r in data if r[1] != "NEG"]
    neg = [r for r in data if r[1] == "NEG"]
    assert len(data) >= MIN_LINES
    assert len(pos) >= MIN_POS
    assert len(neg) >= MIN_NEG
    per_code = collections.Counter(c for r in pos for c in r[1].split(","))
    for code in CODES:
        assert per_code[code] >= MIN_PER_CODE, f"{code}: {per_code[code]} < {MIN_PER_CODE}"


def test_no_duplicate_texts(rows: list[list[str]]) -> None:
    texts = [r[0] for r in rows[1:]]
    dups = [t for t, c in collections.Counter(texts).items() if c > 1]
    assert not dups, dups


def test_no_real_looking_phone_numbers(rows: list[list[str]]) -> None:
    # Invented data only: any 11-digit mobile number must be a placeholder (all zeros after the prefix).
    for n, row in enumerate(rows[1:], start=2):
        for num in re.findall(r"1[3-9]\d{9}", row[0]):
            assert set(num[3:]) == {"0"}, f"line {n}: phone-like number {num}"


def test_readme_records_current_hash() -> None:
    digest = hashlib.sha256(BLIND.read_bytes()).hexdigest()
    assert digest in README.read_text(encoding="utf-8"), "blind.tsv changed after it was frozen"
