"""FALSE_LEGAL (虚假/夸大法律后果): jail, frozen accounts, summons, blacklists, harm to children's prospects."""

from __future__ import annotations

import pytest
from rules_cases import assert_flagged, assert_not_flagged, flags_of

CATEGORY = "FALSE_LEGAL"

POSITIVES = [
    ("我是法院执行局的，她再不还就要被抓去坐牢", "坐牢"),
    ("再不还钱我们就冻结你所有银行卡", "冻结你所有银行卡"),
    ("你72小时内就会收到法院传票", "传票"),
    ("你马上就会成为失信被执行人", "失信被执行人"),
    ("不还钱会影响你子女考公政审", "考公"),
    ("你这属于恶意透支，是要坐牢的", "坐牢"),
    ("不还钱就抓你去坐牢", "抓你"),
    ("你再不还，警察马上上门抓你", "抓你"),
    ("我们会把你列入征信黑名单", "黑名单"),
    ("你这是诈骗，我们已经报警了", "诈骗"),
    ("你全家都会上征信黑名单", "黑名单"),
    ("不还钱以后你坐不了飞机高铁", "坐不了飞机"),
    ("你的案子已经移交公安机关了", "移交公安机关"),
    ("我们会申请强制执行，拍卖你的房子", "强制执行"),
    ("欠钱不还是要判刑的", "判刑"),
    ("你会被拘留十五天", "拘留"),
    ("你这一辈子都贷不了款了", "贷不了款"),
    ("明天法院就会来人查封你的财产", "查封你的财产"),
    ("你已经涉嫌信用卡诈骗罪了", "诈骗"),
    ("再不还你就等着吃牢饭吧", "牢饭"),
    ("欠的钱不还，你孩子以后考大学都会受影响", "考大学"),
    ("你的微信和支付宝都会被冻结", "冻结"),
    ("你再不还，我们就去法院起诉你，让你坐牢", "坐牢"),
    ("你的案子我们已经在公安局立案了", "立案"),
    ("你会被列为老赖，全国通缉", "全国通缉"),
    ("逾期不还会影响你父母的征信", "父母的征信"),
]

NEGATIVES = [
    "逾期可能会产生罚息",
    "他因为诈骗被判刑三年",
    "我会坐牢吗？",
    "欠钱不还会坐牢吗？",
    "你们说我要坐牢，有什么依据？",
    "我们不会冻结你的银行卡",
    "收到法院传票怎么办？",
    "船票已经订好了",
    "他被列入失信被执行人名单了",
    "考公需要政审",
    "我们会依法处理，不会吓唬你",
    "你可以去法院起诉我们",
    "我把那个骚扰电话拉进黑名单了",
    "请在72小时内完成支付",
    "坐牢这种事我们不会乱说",
    "警察叔叔辛苦了",
    "这部电影讲的是一个人坐牢二十年的故事",
    "你放心，逾期几天不会上征信",
    "我们只是提醒你按时还款",
    "新闻说有人因为欠钱不还被拘留了",
    "你是说我会被起诉吗？",
    "法院的通知我已经收到了",
    "你不用担心，不会影响你孩子上学",
    "高铁票买好了吗",
    "他犯罪了，被警察抓走了",
    "我们不会把你送去坐牢，那是吓唬人的",
]


@pytest.mark.parametrize(("text", "fragment"), POSITIVES)
def test_flags_false_legal(engine, text: str, fragment: str) -> None:
    assert_flagged(engine, text, CATEGORY, fragment)


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_false_legal(engine, text: str) -> None:
    assert_not_flagged(engine, text, CATEGORY)


@pytest.mark.parametrize("text", ["逾期会上报征信", "你再不还款我们会依法起诉", "逾期会影响你的个人征信"])
def test_true_statements_are_severity_one(engine, text: str) -> None:
    found = flags_of(engine, text, CATEGORY)
    assert found and all(f.severity == 1 for f in found)
    assert all(f.score < 0.7 for f in found)


def test_exaggeration_outranks_true_statement(engine) -> None:
    (flag,) = flags_of(engine, "不还钱就冻结你所有银行卡", CATEGORY)
    assert flag.severity >= 2
