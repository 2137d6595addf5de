"""Everyday Chinese must stay quiet: hand-written look-alikes and the non-offensive rows of COLD."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

TEXT_ZH = Path(__file__).resolve().parents[3] / "shared" / "data" / "text_zh"

EVERYDAY = [
    "今天天气真好，我们去公园散步吧",
    "快递员说下午三点上门取件",
    "我朋友在派出所上班，人挺好的",
    "门口新开了一家面馆",
    "你到家了吗？记得给我发个消息",
    "请打开通讯录权限，方便添加好友",
    "银行提醒您按时还款，保持良好信用",
    "这部电影讲的是警察破案的故事",
    "周末带孩子去动物园看熊猫",
    "我借了同事一支笔，明天还他",
    "妈妈让我放学早点回家",
    "老师明天来家访，记得把房间收拾干净",
    "法院门口那条路在修",
    "他在律师事务所实习了三个月",
    "我们公司提供送货上门服务",
    "朋友圈里都在晒年夜饭",
    "把照片发到群里，大家都想看",
    "这个平台的客服态度挺好",
    "手机通讯录丢了，怎么找回来",
    "你家孩子真可爱，几岁了？",
    "下雨了，出门记得带伞",
    "我们明天去你家吃饭，欢迎吗？",
    "我们单位组织体检，要空腹",
    "信用卡积分可以兑换电影票",
    "他打电话给他爸妈报平安",
    "这只狗好可爱，叫什么名字",
    "今天累死了，早点睡",
    "你放心，这事我帮你搞定",
    "打个电话问问他到哪了",
    "老板说下周发工资",
    "小区公告栏贴了停水通知",
    "网上说明天有暴雨，注意安全",
    "我想在网上买一张船票",
    "他考公的政审已经通过了",
    "她说要卖掉旧车换辆新的",
    "警察叔叔帮我找到了钱包",
    "我们在你家楼下等你，快下来",
    "记得转告你爸妈，周末一起吃饭",
    "学校通知家长周五开家长会",
    "这个月的账单已经还清了",
    "公司年会上抽中了一台电视",
    "你是哪个学校毕业的？",
    "他是我大学同学，现在在法院工作",
    "我们不会把你的信息透露给任何人",
    "房子卖了以后搬去了南方",
    "路上堵车，晚点到",
    "春节回老家看爷爷奶奶",
    "邻居家的狗半夜一直叫",
    "新闻说有人冒充公安局诈骗老人",
    "今天发了个朋友圈，好多人点赞",
]


@pytest.mark.parametrize("text", EVERYDAY)
def test_everyday_sentence_is_not_flagged(engine, text: str) -> None:
    assert engine.flag_text(text) == []


@pytest.mark.skipif(not (TEXT_ZH / "COLD").is_dir(), reason="shared/data/text_zh/COLD not present")
def test_false_alarm_rate_on_non_offensive_cold_rows(engine) -> None:
    with open(TEXT_ZH / "COLD" / "dev.csv", encoding="utf-8-sig", newline="") as fh:
        safe = [row["TEXT"] for row in csv.DictReader(fh) if row["label"] == "0"][:1500]
    flagged = [text for text in safe if engine.flag_text(text)]
    assert len(safe) == 1500
    assert len(flagged) / len(safe) <= 0.02, flagged[:10]
