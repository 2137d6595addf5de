"""HOME_WORK_VISIT (上门/外访威胁): visits to the debtor's home, workplace, school, home village."""

from __future__ import annotations

import pytest
from rules_cases import assert_flagged, assert_not_flagged, flags_of

CATEGORY = "HOME_WORK_VISIT"

POSITIVES = [
    ("我们已经联系了你们公司的人事，明天就去你单位找你。", "去你单位"),
    ("上门催收人员已经出发", "上门催收"),
    ("下午三点上门核实", "上门核实"),
    ("家里有老人小孩的话让他们回避一下", "回避"),
    ("明天我们去你公司闹", "去你公司"),
    ("不还钱我们就上门", "上门"),
    ("我们的外访人员已经在路上了", "外访"),
    ("明天我们的同事会到你老家找你父母", "到你老家"),
    ("再不还，我们直接去你学校找你辅导员", "去你学校"),
    ("我们安排人上门拜访你", "上门拜访"),
    ("我们的人已经在你家楼下了", "你家楼下"),
    ("今天下午我们会派人到你家里", "到你家里"),
    ("你不接电话，我们只能上门找你了", "上门"),
    ("我们会去你们村里找你", "去你们村里"),
    ("到时候我们去你家当面谈", "去你家"),
    ("我们明天就登门拜访", "登门拜访"),
    ("我们的催收员会去你公司门口堵你", "去你公司"),
    ("你不还钱我们就天天去你家", "去你家"),
    ("我们已经派人去你户籍地了", "去你户籍地"),
    ("我们下午去你家里核实情况", "去你家里"),
    ("逾期这么久，我们会安排外访", "外访"),
    ("不还钱我们就去你单位拉横幅", "去你单位"),
    ("明天上午十点我们上门，你最好在家", "上门"),
    ("我们已经到你们小区门口了", "到你们小区"),
    ("准备一下，我们的人下午就上门", "上门"),
    ("你再不还款，我们的同事会去你工作的地方找你", "去你工作的地方"),
]

NEGATIVES = [
    "我们不会上门的，你放心",
    "你们会上门吗？",
    "你们凭什么去我单位闹？",
    "快递员上门取件",
    "师傅明天上门安装空调",
    "送货上门，免费安装",
    "他是上门女婿",
    "明天去你家玩",
    "欢迎您到我们营业厅办理业务",
    "你可以来我们公司当面协商",
    "门口有只猫",
    "我明天去你家吃饭",
    "麻烦找上门来了",
    "关上门再说",
    "你们要是敢来我家，我就报警",
    "我们不会去你单位的",
    "老师下周来家访",
    "我们公司提供上门维修服务",
    "你放心，我们只是电话沟通，不会去你家",
    "他们说明天要来我家，是真的吗？",
    "我到你家楼下了，下来吧",
    "我们上门服务的时间是周一到周五",
    "一会儿去你公司拿一下文件",
    "你们催收上门是违法的",
    "如果需要，您可以到我们网点办理",
    "房东说明天上门看看房子",
]


@pytest.mark.parametrize(("text", "fragment"), POSITIVES)
def test_flags_home_work_visit(engine, text: str, fragment: str) -> None:
    assert_flagged(engine, text, CATEGORY, fragment)


@pytest.mark.parametrize("text", NEGATIVES)
def test_does_not_flag_home_work_visit(engine, text: str) -> None:
    assert_not_flagged(engine, text, CATEGORY)


@pytest.mark.parametrize(
    ("text", "severity"),
    [("我们明天上门核实", 2), ("我们明天上门，家里有老人小孩让他们回避", 3), ("不还钱我们就去你单位拉横幅", 3)],
)
def test_family_or_making_a_scene_raises_severity(engine, text: str, severity: int) -> None:
    assert max(f.severity for f in flags_of(engine, text, CATEGORY)) == severity
