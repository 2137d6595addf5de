"""FORCED_BORROW (逼迫借新还旧): pushing the debtor to borrow from relatives, other lenders, credit cards."""

from __future__ import annotations

import pytest
from rules_cases import assert_flagged, assert_not_flagged

CATEGORY = "FORCED_BORROW"

POSITIVES = [
    ("那你就去找亲戚朋友借，今天必须到账。", "找亲戚朋友借"),
    ("去别的平台借来还", "别的平台借"),
    ("你可以借新还旧嘛", "借新还旧"),
    ("信用卡套现还我们", "套现"),
    ("卖房卖车也得还", "卖房卖车"),
    ("你找你爸妈要钱还啊", "你爸妈要钱"),
    ("砸锅卖铁也要把钱还上", "砸锅卖铁"),
    ("去借网贷来还", "网贷"),
    ("借也得给我借到", "借也得"),
    ("你问同事借一下不就行了，今天必须还上", "同事借"),
    ("以贷养贷也得把这笔钱还了", "以贷养贷"),
    ("你不会去办张信用卡来还吗？", "信用卡"),
    ("找你老婆借点钱先还上", "你老婆借"),
    ("你去别的口子撸点钱过来", "口子撸"),
    ("向你身边的朋友借一借，先把钱还了", "朋友借"),
    ("花呗借呗都可以刷出来还", "刷出来"),
    ("卖血也要把钱还上", "卖血"),
    ("让你爸妈帮你还", "帮你还"),
    ("东拼西凑也得今天还上", "东拼西凑"),
    ("拆东墙补西墙你也得先还我们", "拆东墙补西墙"),
    ("你找同学凑一凑，今天必须到账", "同学凑"),
    ("你没钱就去贷款还啊", "贷款还"),
    ("把车抵押了还钱", "抵押"),
    ("你去跟亲戚借点钱，先把利息还了", "亲戚借"),
    ("借高利贷也得还我们的钱", "高利贷"),
    ("你想办法去借，今天必须还", "想办法去借"),
]

NEGATIVES = [
    "我找朋友借了点钱先还你们一部分",
    "我们可以给你申请分期还款",
    "你可以跟家人商量一下还款计划",
    "我已经在别的平台借不到了",
    "朋友借我一本书",
    "我们不建议你以贷养贷",
    "你可以申请延期还款",
    "我们不会让你去借高利贷",
    "他卖房子是为了换大房子",
    "信用卡积分可以兑换礼品",
    "我不会去借网贷的",
    "你们是不是让我去别的平台借钱？",
    "我跟我妈借的钱已经还了",
    "朋友之间借钱要慎重",
    "我们建议你先还最低还款额",
    "你在其他平台也有借款吗？",
    "你借的钱是用来做什么的？",
    "我们可以帮你办理停息挂账",
    "我打算卖车还钱",
    "你可以先还一部分，剩下的分期",
    "找朋友借东西要记得还",
    "他向银行申请了房贷",
    "跟亲戚借钱的事我们不会过问",
    "我们不会逼你借钱还款",
    "卖血是违法的",
    "你可以找你的客户经理问问",
]


@pytest.mark.parametrize(("text", "fragment"), POSITIVES)
def test_flags_forced_borrow(engine, text: str, fragment: str) -> None:
    assert_flagged(engine, text, CATEGORY, fragment)


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_forced_borrow(engine, text: str) -> None:
    assert_not_flagged(engine, text, CATEGORY)
