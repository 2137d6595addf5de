"""Drafts for 信用中国, the civil suit (民事起诉状), 行为保全 and the media page, rendered from a case whose
evidence is a call log (no recording needed): facts from the case, placeholders for what the user adds,
no article cited that is not verified, numbers masked on the media page."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_calllog import COLLECTOR, MISSED_EVENING, calls_xml, write  # tests/ is on sys.path

from pipeline.calllog.importer import discover_call_logs, import_call_logs
from pipeline.calllog.rules import apply_call_log_rules
from pipeline.evidence.channels import CHANNEL_DRAFTS, call_log_context, mask_number
from pipeline.evidence.complaints import COMPLAINTS, TemplateSet, complaint_context
from pipeline.evidence.select import PackOptions, collect
from pipeline.evidence.select_messages import attach_messages
from pipeline.store import CaseStore


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("drafts") / "INPUT"
    write(root / "本人" / "calls-20240116.xml", calls_xml(MISSED_EVENING))
    write(root / "母亲" / "calls.csv", "file,number,start,type\n,13800138000,2024-01-16 12:00,未接\n"
                                     ",13800138000,2024-01-16 12:05,已接\n")
    with CaseStore.open(root.parent / "case") as store:
        import_call_logs(store, discover_call_logs(root), root)
        apply_call_log_rules(store)
        options = PackOptions(include_pending=True)
        case = collect(store, options)
        attach_messages(case, store, options)
    context = complaint_context(case, options.to_dict())
    templates = TemplateSet()
    return {path: templates.render(name, context) for path, name in CHANNEL_DRAFTS.items()}


def test_every_channel_is_registered_and_renders(rendered: dict[str, str]) -> None:
    assert set(CHANNEL_DRAFTS) <= set(COMPLAINTS)
    assert set(rendered) == {"complaints/creditchina.txt", "complaints/civil_complaint.txt",
                             "complaints/behaviour_preservation.txt", "complaints/media_summary.txt"}
    for text in rendered.values():
        assert "【" in text and "None" not in text and "{{" not in text


def test_civil_complaint_has_parties_claims_facts_and_evidence(rendered: dict[str, str]) -> None:
    text = rendered["complaints/civil_complaint.txt"]
    for needle in ("原告：【姓名】", "被告：【贷款平台或催收公司全称】", "停止以电话、短信等方式侵扰", "赔礼道歉",
                   "精神损害抚慰金【】元", "2024-01-15 21:00 至 2024-01-16 12:05", "来电 10 次，其中未接通 9 次",
                   "22:00 至次日 08:00 之间 2 次", "2024-01-15：8 次", "共有 8 通未接来电", "证据清单",
                   "手机通话记录备份（SMS Backup & Restore）", "【】人民法院"):
        assert needle in text, needle
    for article in ("民法典第995条", "民法典第1165条", "民法典第1167条", "民法典第1182条", "民法典第1183条",
                    "个人信息保护法第69条"):  # the claims' articles, read against the published texts
        assert article in text, article
    assert "待核实" not in text


def test_behaviour_preservation_states_urgency_and_cites_the_verified_articles(rendered: dict[str, str]) -> None:
    text = rendered["complaints/behaviour_preservation.txt"]
    assert "停止联系申请人通讯录中的亲友" in text and "最近一次来电在 2024-01-16 12:05" in text
    assert "母亲（母亲）：电话 2 次（未接通 1 次）" in text
    # the grounds of the application, read against the published texts (configs/legal/bases.yaml)
    law = text[text.index("三、法律依据"):text.index("四、担保")]
    for article in ("民法典第997条", "民事诉讼法（2023修正）第103条", "民事诉讼法（2023修正）第104条"):
        assert article in law, article
    assert "禁止作出一定行为" in law and "【" not in law.split("被申请人的行为涉及的规定")[0]
    assert "待核实" not in text and "担保" in text


def test_creditchina_and_media_page(rendered: dict[str, str]) -> None:
    assert "10 个号码" not in rendered["complaints/creditchina.txt"]
    assert "1 个号码来电 10 次" in rendered["complaints/creditchina.txt"]
    media = rendered["complaints/media_summary.txt"]
    assert COLLECTOR not in media and "138****8000（10 次）" in media
    assert "母亲" in media and "打来 10 次电话，其中 9 次没有接通" in media


def test_without_a_call_log_the_drafts_say_so() -> None:
    class Case:
        case_info: dict[str, str] = {}

    assert call_log_context(Case())["has"] is False
    assert mask_number("+86 138 0013 8000") == mask_number("13800138000") == "138****8000"
    assert mask_number("0755-8888 1234") == "075****1234" and mask_number("95588") == "某号码"
    assert mask_number("催收") == "某号码"


def test_template_variables_are_documented() -> None:
    readme = (Path(__file__).parents[1] / "configs" / "templates" / "README.md").read_text(encoding="utf-8")
    assert "call_log" in readme and "civil_complaint.txt.j2" in readme
