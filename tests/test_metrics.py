"""CER and the number reading it can compare in: a number heard right counts as right however written."""

from __future__ import annotations

import pytest

from pipeline.metrics import cardinal, cer, corpus_cer, read_numbers


@pytest.mark.parametrize(("n", "spoken"), [
    (0, "零"), (7, "七"), (10, "十"), (12, "十二"), (20, "二十"), (28, "二十八"), (105, "一百零五"),
    (110, "一百一十"), (500, "五百"), (1005, "一千零五"), (2640, "二千六百四十"), (10500, "一万零五百"),
    (12000, "一万二千"), (100000, "十万"), (20000001, "二千万零一"), (123456789, "一亿二千三百四十五万六千七百八十九"),
])
def test_cardinal_reads_whole_numbers(n: int, spoken: str) -> None:
    assert cardinal(n) == spoken


@pytest.mark.parametrize(("written", "read"), [
    ("合同号是082647", "合同号是零八二六四七"),            # a leading zero: a code, digit by digit
    ("电话13912345678", "电话一三九一二三四五六七八"),      # 7+ digits: digit by digit
    ("剩下的28号之前还500", "剩下的二十八号之前还五百"),
    ("一共是2,640块", "一共是二千六百四十块"),              # thousands separator
    ("一期不是才1.5吗", "一期不是才一点五吗"),
    ("记住了082647,2640块", "记住了零八二六四七,二千六百四十块"),  # a comma that is punctuation
    ("2024年", "二零二四年"),
    ("利息50%", "利息百分之五十"),
    ("两千幺五零", "二千一五零"),                          # 两 = 二, 幺 = 一 on both sides
    ("没有数字", "没有数字"),
])
def test_read_numbers_writes_digits_as_they_are_spoken(written: str, read: str) -> None:
    assert read_numbers(written) == read


def test_numbers_only_change_the_comparison_when_asked() -> None:
    ref, hyp = "合同号是零八二六四七，两千六百四十块", "合同号是082647,2640块"
    assert cer(ref, hyp) > 0.5
    assert cer(ref, hyp, numbers=True) == 0.0
    assert corpus_cer([(ref, hyp), ("你好", "你号")], numbers=True) == pytest.approx(1 / 19)  # 17 + 2 characters, one edit
