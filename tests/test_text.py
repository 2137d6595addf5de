import pytest

from pipeline.text import is_hallucination, normalize, repetition_ratio, strip_punctuation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("廣州市房地產中介協會", "广州市房地产中介协会"),
        ("我們會 上門", "我们会上门"),
        ("ＡＢＣ１２３ 你好", "ABC123你好"),
        ("還錢，不然爆你通訊錄！", "还钱，不然爆你通讯录！"),
        ("hello  world 測試", "hello world测试"),
        ("  前后空格  ", "前后空格"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


@pytest.mark.parametrize("raw", ["廣州市 房地產", "ＡＢＣ 你好 ， 世界", "a  b   c 中 文", "通訊錄"])
def test_offset_map_points_at_the_raw_character(raw: str) -> None:
    norm = normalize(raw)
    assert len(norm.source_index) == len(norm.text)
    assert norm.source_index == sorted(norm.source_index)
    for ch, i in zip(norm.text, norm.source_index, strict=True):
        assert normalize(raw[i]).text in (ch, "")  # the source char normalises to this char


def test_hallucination_phrases() -> None:
    assert is_hallucination("字幕由Amara.org社区提供")
    assert is_hallucination("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目")
    assert not is_hallucination("你的借款已经逾期四十五天了")


def test_repetition_ratio_finds_loops_not_speech() -> None:
    assert repetition_ratio("还钱还钱还钱还钱还钱还钱还钱还钱") > 0.9
    assert repetition_ratio("我认为跑步最重要的就是给我带来了身体健康") == 0.0


def test_strip_punctuation() -> None:
    assert strip_punctuation("你好，世界！(测试)") == "你好世界测试"
