"""OBSCENE (淫秽/性羞辱): doctored nude photos, "go sell yourself", sexual slurs."""

from __future__ import annotations

import pytest
from rules_cases import assert_flagged, assert_not_flagged

CATEGORY = "OBSCENE"

POSITIVES = [
    ("不还钱就合成你的裸照发到网上", "裸照"),
    ("没钱就去卖还钱", "去卖"),
    ("你老婆不是还能出去卖吗", "出去卖"),
    ("让你女儿去坐台还债", "坐台"),
    ("陪我睡一晚，这笔钱就算了", "陪我睡"),
    ("我们会把你的嫖娼照发给你老婆", "嫖娼照"),
    ("你这个婊子，赶紧还钱", "婊子"),
    ("骚货，借钱的时候怎么不说", "骚货"),
    ("还不上你可以肉偿", "肉偿"),
    ("没钱就用身体还", "用身体还"),
    ("P一张你的裸照发到你们村群里", "裸照"),
    ("你就是个破鞋", "破鞋"),
    ("女的没钱就去卖淫", "卖淫"),
    ("我们手里有你的艳照", "艳照"),
    ("你们这种女的就该去当鸡", "当鸡"),
    ("不还钱就把你的不雅照发给你同事", "不雅照"),
    ("去夜总会陪酒还钱", "陪酒"),
    ("长得还行，出来卖吧", "出来卖"),
    ("你老婆陪人睡一次就够还了", "陪人睡"),
    ("我们会PS你的裸体照片", "裸体"),
    ("卖身还债吧你", "卖身"),
    ("你这种骚逼", "骚逼"),
    ("把你的床照发到网上", "床照"),
    ("你这个荡妇", "荡妇"),
    ("借了钱还不上就去做小姐", "做小姐"),
    ("没钱还就去援交", "援交"),
]

NEGATIVES = [
    "我去卖菜了",
    "我打算把房子卖了还钱",
    "今晚陪孩子睡",
    "这张照片拍得真好",
    "他出去卖水果了",
    "公交车来了",
    "扫黄打非行动中抓获多名嫖娼人员",
    "陪酒是他的工作",
    "我们不会用你的照片做任何事",
    "你们是不是要P我的裸照？",
    "他们说要合成我的裸照",
    "她在网上卖衣服",
    "你陪我去医院吧",
    "我老婆陪我睡觉",
    "卖淫嫖娼是违法行为",
    "他把车卖了还债",
    "你们敢P我照片我就报警",
    "我不会去卖的",
    "这部电影有裸体镜头",
    "小区门口有卖早点的",
    "别出去卖萌了",
    "奶奶陪孙子睡午觉",
    "你老婆长得挺好看的",
    "下班后陪客户吃饭",
    "合成照片的软件叫什么",
    "她们出来卖东西的",
]


@pytest.mark.parametrize(("text", "fragment"), POSITIVES)
def test_flags_obscene(engine, text: str, fragment: str) -> None:
    assert_flagged(engine, text, CATEGORY, fragment)


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_obscene(engine, text: str) -> None:
    assert_not_flagged(engine, text, CATEGORY)
