"""IMPERSONATION (冒充公检法/律师/政府): posing as police, court, prosecutors, officials or lawyers."""

from __future__ import annotations

import pytest
from rules_cases import assert_flagged, assert_not_flagged, flags_of

CATEGORY = "IMPERSONATION"

POSITIVES = [
    ("我是法院执行局的", "法院"),
    ("我是城南派出所的民警", "派出所"),
    ("这里是朝阳区人民法院，你的案件已经立案", "法院"),
    ("我们是经侦大队的，你涉嫌恶意透支", "经侦"),
    ("你的案号是2023民初5678号", "案号"),
    ("我们法务部已经介入了", "法务部已经介入"),
    ("司法部门已经介入你的案子了", "司法部门已经介入"),
    ("我是公安局的，你现在必须配合调查", "公安局"),
    ("我们受法院委托来处理你的欠款", "受法院委托"),
    ("我是人民检察院的检察官", "检察院"),
    ("这边是市公安局刑警队", "公安局"),
    ("我是法官，你的案子明天开庭", "法官"),
    ("我们是某某律师事务所的，受平台委托向你催收", "律师事务所"),
    ("我是你的代理律师，劝你尽快还款", "律师"),
    ("我这边是仲裁委的，你的欠款纠纷已经受理", "仲裁委"),
    ("经侦已经介入调查了，你要想清楚", "经侦已经介入"),
    ("我们是网警，你的借款涉嫌违法", "网警"),
    ("我是银保监会的工作人员", "银保监"),
    ("我是派出所的，你的事我们已经知道了", "派出所"),
    ("我的警号是12345，请你配合", "警号"),
    ("我们是调解中心的，专门处理你这种逾期案件", "调解中心"),
    ("这里是金融办，你的网贷逾期已经被投诉", "金融办"),
    ("公安机关已经介入，你的欠款问题很严重", "公安机关已经介入"),
    ("我是执行局的法官，今天最后通知你", "执行局"),
    ("你好，我是市公安局经侦支队的李警官", "公安局"),
    ("我们代表法院来通知你", "法院"),
]

NEGATIVES = [
    "我朋友在派出所上班",
    "我是某某金融的，你的借款逾期了",
    "你到底是哪个法院的？",
    "你是警察吗？",
    "我不是警察，我是客服",
    "我下午要去法院办事",
    "你可以向法院起诉",
    "我们是正规持牌机构",
    "我是你的专属客服小王",
    "你们是法院的吗？我要核实一下",
    "我家在派出所旁边",
    "我是说法院那边会通知你",
    "我们是律师推荐的平台",
    "我是在法院工作的朋友介绍来的",
    "我们不是法院，也不是公安",
    "你可以去当地派出所报警",
    "我是警察的家属",
    "这里是法院门口",
    "经侦是什么部门？",
    "案号在哪里查？",
    "律师函我已经收到了",
    "我们公司的法务会联系你的",
    "我爸是政府部门的公务员",
    "他们冒充公安局的人骗钱",
    "你们冒充法院是违法的",
    "我们是本地的金融服务公司",
]


@pytest.mark.parametrize(("text", "fragment"), POSITIVES)
def test_flags_impersonation(engine, text: str, fragment: str) -> None:
    assert_flagged(engine, text, CATEGORY, fragment)


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_impersonation(engine, text: str) -> None:
    assert_not_flagged(engine, text, CATEGORY)


def test_law_firm_scores_below_state_bodies(engine) -> None:
    (firm,) = flags_of(engine, "我们是某某律师事务所的，受平台委托向你催收", CATEGORY)
    (court,) = flags_of(engine, "我是法院执行局的", CATEGORY)
    assert firm.score < court.score and firm.severity < court.severity
