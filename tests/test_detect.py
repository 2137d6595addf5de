"""The two detection tiers behind one interface, with the real encoder and the shipped artefact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.detect import DEFAULT_ARTIFACT, load_detector
from pipeline.detect.artifact import load_artifact
from pipeline.errors import ConfigError
from pipeline.render.flag_view import flag_view
from pipeline.rules import load_engine

pytestmark = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="no trained detector artefact")

PARAPHRASES = [  # collector speech the rule pack misses (rules flag none of these)
    ("我们准备给你的联系人做个科普", "CONTACTS_BLAST"),
]
INNOCENT = ["上门维修的师傅下午到", "派出所办身份证要带户口本", "这张照片曝光过度了，调一下参数", "我下午去银行把信用卡还了"]
# every one of these carries conduct words the tiers must not flag; (text, gate)
GATED = [
    ("我们不会联系你家人", "negation"),
    ("我们不做外访", "negation"),
    ("你们是不是要爆我通讯录？", "question"),
    ("他们说要去我单位闹", "quotation"),
    ("你们爆了我的通讯录", "perspective"),
    ("新闻说有个催收公司因为爆通讯录被判了", "retelling"),
    ("经审理查明，被告人多次发送短信扬言要爆其通讯录", "retelling"),
    ("报道提到，催收员常说的话包括“爆你通讯录”“上门找你”", "retelling"),
]


@pytest.fixture(scope="module")
def both():
    return load_detector("both")


@pytest.fixture(scope="module")
def model():
    return load_detector("model")


@pytest.fixture(scope="module")
def rules():
    return load_detector("rules")


def _model_flags(flags):
    return [f for f in flags if any(r.startswith("model.") for r in f.rules)]


@pytest.mark.parametrize(("text", "category"), PARAPHRASES)
def test_model_flags_paraphrase_the_rules_miss(both, rules, text, category):
    assert rules.flag_text(text) == []
    flags = both.flag_text(text)
    assert [f.category for f in flags] == [category]
    flag = flags[0]
    assert flag.rules == [both.model.rule_id] and flag.rule.startswith("model.")
    assert flag.match == text and (flag.start, flag.end) == (0, len(text))
    assert flag.score >= flag.explanation["threshold"]


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_sentences_are_not_flagged(both, text):
    assert both.flag_text(text) == []


@pytest.mark.parametrize(("text", "gate"), GATED)
@pytest.mark.parametrize("mode", ["rules", "model", "both"])
def test_gates_hold_for_both_tiers(text, gate, mode, both, model, rules):
    detector = {"rules": rules, "model": model, "both": both}[mode]
    assert detector.flag_text(text) == [], (mode, gate)


def test_gated_clause_leaves_the_rest_scored(model):
    text = "我们不是吓唬你，明天就派人去你家里找你，你家住几楼我们都清楚"
    flags = model.flag_text(text)
    assert any(f.category == "HOME_WORK_VISIT" for f in flags)
    assert all("吓唬" not in f.match for f in flags)


def test_roles(model):
    text = PARAPHRASES[0][0]
    assert model.flag_text(text, role="borrower") == []
    unknown = model.flag_text(text, role=None)
    assert unknown and all(f.speaker_unconfirmed and "说话人未确认" in f.notes for f in unknown)
    collector = model.flag_text(text, role="collector")
    assert collector and "speaker" in collector[0].explanation["gates"] and not collector[0].speaker_unconfirmed


def test_explanation_names_model_score_threshold_and_neighbours(model):
    flag = model.flag_text(PARAPHRASES[0][0])[0]
    e = flag.explanation
    art = load_artifact()
    assert e["model"]["name"] == art.rule_id and e["model"]["sha256"] == art.sha256
    assert e["model"]["encoders"][0]["sha256"]
    assert 0 < e["threshold"] <= e["score"] <= 1
    assert 2 <= len(e["neighbours"]) <= 3
    assert all(n["text"] and n["labels"] and -1 <= n["similarity"] <= 1 for n in e["neighbours"])
    assert {"negation", "question", "quotation", "perspective", "retelling"} <= set(e["gates"])
    lines = flag_view(flag.to_dict()).explanation
    assert any(line.startswith("与这些已标注例句相似：") for line in lines)
    assert any("阈值" in line and art.rule_id in line for line in lines)


def test_detect_rules_is_exactly_the_rule_engine(rules):
    engine = load_engine()
    texts = ["不还钱就爆你通讯录", "你这个老赖，明天我们就上门", "我们准备给你的联系人做个科普", "你好，请问是李明吗"]
    for text in texts:
        assert [f.to_dict() for f in rules.flag_text(text)] == [
            {**f.to_dict(), "explanation": {**f.explanation, "gates": [*f.explanation["gates"], "retelling"]}}
            for f in engine.flag_text(text)]
    assert rules.pack_info == engine.pack_info


def test_both_merges_overlapping_rule_and_model_flags(both):
    flags = both.flag_text("不还钱就爆你通讯录")
    blast = [f for f in flags if f.category == "CONTACTS_BLAST"]
    assert len(blast) == 1
    assert "contacts.blast" in blast[0].rules


def test_judgment_cues_retell_only_without_you():
    from pipeline.rules.gates import retelling

    assert retelling("判决认定，被告人以散布裸照相威胁，构成敲诈勒索罪")
    assert not retelling("你再不还，法院认定你是老赖")  # the collector's own threat, aimed at "you"


def test_rule_veto_drops_rule_flags_the_model_sees_nothing_in(both, rules):
    """In mode both, a rule's conduct flag goes where the model scores every category below rule_veto."""
    text = "不还钱就冻结你所有银行卡"
    assert any(f.rule.startswith("legal.") for f in rules.flag_text(text))
    meta = both.model.artifact.meta
    saved = meta.get("combine")
    try:
        meta["combine"] = {"rule_veto": 0.0}
        assert any(not r.startswith("model.") for f in both.flag_text(text) for r in f.rules)
        meta["combine"] = {"rule_veto": 1.01}  # above any probability: every rule flag over a scored unit goes
        assert all(r.startswith("model.") for f in both.flag_text(text) for r in f.rules)
        assert both.model.sees_nothing(text, 0, len(text), 1.01)
        assert not both.model.sees_nothing("老赖", 0, 2, 1.01)  # too short for the model: never judged
    finally:
        if saved is None:
            meta.pop("combine", None)
        else:
            meta["combine"] = saved


def test_pack_info_records_model_and_encoder(both):
    kinds = {p.get("kind") for p in both.pack_info}
    assert {"model", "encoder"} <= kinds
    model = next(p for p in both.pack_info if p.get("kind") == "model")
    assert model["name"].startswith("model.") and len(model["sha256"]) == 64
    assert both.info()["mode"] == "both" and both.info()["model"]["npz_sha256"]


def test_tampered_weights_give_one_line_error(tmp_path):
    target = tmp_path / "detector.json"
    shutil.copy(DEFAULT_ARTIFACT, target)
    blob = bytearray(DEFAULT_ARTIFACT.with_suffix(".npz").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    target.with_suffix(".npz").write_bytes(bytes(blob))
    with pytest.raises(ConfigError) as err:
        load_detector("model", artifact=target)
    message = str(err.value)
    assert "\n" not in message and "SHA-256" in message and "detector weights hash mismatch" in message


def test_tampered_encoder_weights_are_refused(tmp_path, monkeypatch):
    from pipeline.detect import encoder

    spec = encoder.SPECS["e5"]
    root = tmp_path / "pkg"
    root.mkdir()
    (root / spec.files[0][0]).write_bytes(b"not the weights")
    monkeypatch.setenv("CALLPROOF_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="encoder weights hash mismatch"):
        encoder.verify_files(spec, root)


EXAMPLES = """\
CONTACTS_BLAST:
- 你家那几个亲戚的微信我们都加上了，今晚挨个聊聊你的光荣事迹
NEG:
- 我们给你的联系人做个科普讲座，主题是防诈骗
"""


def test_examples_teach_the_model_tier(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(EXAMPLES, encoding="utf-8")
    taught = load_detector("model", examples=[path])
    flags = taught.flag_text("你家那几个亲戚的微信我们都加上了，今晚挨个聊聊你的光荣事迹吧")
    assert any(f.category == "CONTACTS_BLAST" and f.explanation.get("examples") for f in flags)
    example = next(f for f in flags if f.explanation.get("examples")).explanation["examples"][0]
    assert example["file"] == "my.yaml" and example["label"] == "CONTACTS_BLAST"
    assert taught.flag_text("我们给你的联系人做个科普讲座，主题是防诈骗") == []
    assert any(p.get("kind") == "examples" for p in taught.pack_info)


def test_rules_check_validates_examples_with_lines(tmp_path):
    from pipeline.commands.rules_cmd import rules_check

    good = tmp_path / "good.yaml"
    good.write_text(EXAMPLES, encoding="utf-8")
    result = CliRunner().invoke(rules_check, [str(good)])
    assert result.exit_code == 0 and "例句文件有效" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("INSULT:\n- 你这个废物\nTHREATS:\n- 小心点\nNEG:\n- ''\n- 你好\n- 你好\n", encoding="utf-8")
    result = CliRunner().invoke(rules_check, [str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: 未知类别 THREATS" in result.output
    assert f"{bad}:6: 例句应为非空文本" in result.output
    assert f"{bad}:8: 例句与第 7 行重复" in result.output


def test_flag_text_cli_detect_modes():
    from pipeline.commands.rules_cmd import flag_text_command

    text = PARAPHRASES[0][0] + "\n不还钱就爆你通讯录\n"
    out = {}
    for mode in ("rules", "model", "both"):
        result = CliRunner().invoke(flag_text_command, ["--detect", mode, "-"], input=text)
        assert result.exit_code == 0, result.output
        out[mode] = [json.loads(line) for line in result.output.splitlines()]
    assert out["rules"][0]["flags"] == [] and out["rules"][1]["flags"]
    assert out["model"][0]["flags"][0]["rule"].startswith("model.")
    assert {f["category"] for f in out["both"][0]["flags"]} == {"CONTACTS_BLAST"}


def test_flag_text_puts_severity_one_notes_apart():
    """A true statement (逾期会上报征信) is a severity-1 note, not a conduct flag, unless --min-severity 1."""
    from pipeline.commands.rules_cmd import flag_text_command

    text = "逾期会上报征信，请您按时还款\n"
    default = json.loads(CliRunner().invoke(flag_text_command, ["--detect", "rules", "-"], input=text).output)
    assert default["flags"] == []
    assert [(n["rule"], n["severity"]) for n in default["notes"]] == [("legal.credit_true", 1)]
    listed = json.loads(CliRunner().invoke(flag_text_command, ["--detect", "rules", "--min-severity", "1", "-"],
                                           input=text).output)
    assert [f["rule"] for f in listed["flags"]] == ["legal.credit_true"] and "notes" not in listed


def test_examples_need_the_model_tier(tmp_path):
    from pipeline.commands.rules_cmd import flag_text_command

    path = tmp_path / "my.yaml"
    path.write_text(EXAMPLES, encoding="utf-8")
    result = CliRunner().invoke(flag_text_command, ["--detect", "rules", "--examples", str(path), "-"], input="你好\n")
    assert result.exit_code == 2


def test_flag_segments_keep_times_and_speaker(both):
    from pipeline.transcript import Segment

    text = PARAPHRASES[0][0]
    seg = Segment(index=3, start=10.0, end=14.0, text=text, raw_text=text, speaker="S0", role="collector")
    flags = both.flag_segments([seg])
    assert flags and flags[0].segment_index == 3 and flags[0].speaker == "S0"
    assert 10.0 <= flags[0].start_s < flags[0].end_s <= 14.0


def test_artifact_is_small_and_records_corpus():
    art = load_artifact()
    assert DEFAULT_ARTIFACT.with_suffix(".npz").stat().st_size < 20_000_000  # head, n-gram table, 12.6k-line bank
    assert len(art.meta["corpus_sha256"]) == 64 and set(art.meta["thresholds"]) == set(art.categories)


def test_missing_artifact_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="detector artefact missing"):
        load_artifact(tmp_path / "none.json")


def test_examples_validate_unit(tmp_path):
    from pipeline.detect.examples import ExamplesError, load_examples

    path = tmp_path / "x.yaml"
    path.write_text("- 不是映射\n", encoding="utf-8")
    with pytest.raises(ExamplesError, match=":1:"):
        load_examples(path, {"INSULT"})
    assert Path(DEFAULT_ARTIFACT).name == "detector.json"
