"""Retelling and lawful-notice forms are gated; the same conduct said to "you" is still flagged."""

from __future__ import annotations

import pytest

from pipeline.detect import load_detector
from pipeline.rules.gates import retelling


@pytest.mark.parametrize("text", [
    "有个律师说，催收让你找亲戚借钱，如果只是建议不算违法",
    "我同事说催收打电话让他去别的平台借钱还，他没理",
    "我听一个做律师的朋友说，爆通讯录可能构成侵犯公民个人信息罪",
    "如果有人说要在您小区贴大字报，您可以先报警",
    "我刷到一个视频，催收把借款人的照片发到了家族群",
])
def test_retold_or_lawful_notice(text: str) -> None:
    assert retelling(text)


@pytest.mark.parametrize("text", [
    "听好了我跟你说，没钱就去卖",
    "我们给你做了个视频，准备发到你们家族群",
    "前两天有个跟你一样的，被做成通缉令发到他们单位群里",
    "你在快手、抖音、微博上都会出名的",
])
def test_threats_are_not_retelling(text: str) -> None:
    assert not retelling(text)


@pytest.mark.parametrize("text", [
    "你不需要去借呗花呗借钱还我们",
    "你让我去别的平台借钱还你们，这是违规的",
    "装修师傅下午上门量尺寸，你欠的钱下次再说",
    "把这个链接转发到你的朋友圈帮我拉个票",
])
def test_rule_tier_does_not_flag(text: str) -> None:
    assert load_detector("rules").flag_text(text, role="collector") == []


@pytest.mark.parametrize("text", ["你不还钱，我们就把你的照片发到你们家族群", "今天不还，明天我们上门"])
def test_rule_tier_still_flags(text: str) -> None:
    assert load_detector("rules").flag_text(text, role="collector")
