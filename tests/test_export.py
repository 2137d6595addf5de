"""`export`: the evidence pack of a case built by the real batch (Whisper) on two sample calls.

The case is built once per session (`reviewed_case`, also used by test_verify.py): flags are
accepted, one is rejected, one is left pending, one has a reviewer note, and a third party's
phone number is planted in a human correction of a flagged segment.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from docx import Document
from docx.oxml.ns import qn
from review_fixtures import SAMPLES, build_case

from cli import main
from pipeline.errors import InputError
from pipeline.evidence import PackOptions, export_pack, safe_extract, verify_pack
from pipeline.evidence.call_files import transcript_path
from pipeline.evidence.complaints import COMPLAINTS
from pipeline.evidence.docx import HEADERS
from pipeline.evidence.excerpts import decode_native, excerpt_range, read_wav, wav_bytes
from pipeline.evidence.legal import BASIS_STATUS, basis_citation
from pipeline.evidence.redact import Redactor
from pipeline.evidence.select import collect, sentence_around
from pipeline.render.categories import category_label
from pipeline.render.writers import MACHINE_NOTICE
from pipeline.store import CaseStore, FlagRow, verify_jsonl

SAMPLE_FILES = ("13912345678_20240116093015.m4a", "通话录音@张三(13800138000)_20240115223402.mp3")
COLLECTOR_NUMBERS = ("13912345678", "13800138000")
PLANTED = "13712345678"
PLANTED_MASKED = "137****5678"
NOTE = "已核听录音，确认是催收方所说"
DRAFTS = ("complaints/12321.txt", "complaints/12378.txt", "complaints/110_statement.txt", "complaints/nifa.txt")


@dataclass
class ReviewedCase:
    case_dir: Path
    inputs: Path
    accepted: list[FlagRow]
    rejected: FlagRow
    pending: FlagRow
    planted_call: str


_BUILT: dict[str, ReviewedCase] = {}


KEEP_ACCEPTED = ("VIOLENCE_THREAT",)  # the drafts' tests quote an accepted threat: never picked to reject or leave pending


def own_rules(flag: FlagRow) -> list[str]:
    """The flag's rule-tier ids (the model tier's id is shared by all its flags)."""
    return list(dict.fromkeys(str(r) for r in [flag.rule, *flag.rules] if not str(r).startswith("model.")))


def _pick_unique(flags: list[FlagRow], avoid: set[int], prefer: tuple[str, ...], *, unique_rule: bool = True) -> FlagRow:
    """A segment flag whose category no other flag has (so it can be searched for); with ``unique_rule``
    one of its rule-tier ids is no other flag's either."""
    counts: dict[str, int] = {}
    for flag in flags:
        counts[flag.category] = counts.get(flag.category, 0) + 1

    def rule_is_unique(f: FlagRow) -> bool:
        return any(sum(r in own_rules(g) for g in flags) == 1 for r in own_rules(f))

    unique = [f for f in flags if f.level == "segment" and counts[f.category] == 1 and f.id not in avoid
              and (not unique_rule or rule_is_unique(f)) and f.category not in KEEP_ACCEPTED]
    unique.sort(key=lambda f: (f.category not in prefer, f.id))
    assert unique, f"the batch produced no flag with a unique category: {[f.category for f in flags]}"
    return unique[0]


def reviewed_case(tmp_path_factory: pytest.TempPathFactory) -> ReviewedCase:
    """Run the real batch once per session and review its flags (see module docstring)."""
    if "case" in _BUILT:
        return _BUILT["case"]
    root = tmp_path_factory.mktemp("export_case")
    inputs = root / "recordings"
    inputs.mkdir()
    for name in SAMPLE_FILES:
        shutil.copy2(SAMPLES / name, inputs / name)
    case_dir = root / "case"
    result = CliRunner().invoke(main, ["run", str(inputs), "-o", str(case_dir), "--speakers", "off"])
    assert result.exit_code == 0, result.output
    with CaseStore.open(case_dir) as store:
        flags = store.all_flags()
        rejected = _pick_unique(flags, set(), ("FORCED_BORROW", "EXPOSURE"))
        pending = _pick_unique(flags, {rejected.id}, ("EXPOSURE", "FORCED_BORROW"), unique_rule=False)
        accepted = [f for f in flags if f.id not in (rejected.id, pending.id)]
        assert len([f for f in accepted if f.level == "segment"]) >= 3, [f.category for f in flags]
        for flag in accepted:
            store.set_flag_status(flag.id, "accepted", note=NOTE if flag is accepted[-1] else None)
        store.set_flag_status(rejected.id, "rejected", note="误报")
        segment_flags = [f for f in accepted if f.level == "segment"]
        target = next((f for f in segment_flags if f.call_id != rejected.call_id), segment_flags[0])
        segment = next(s for s in store.segments(target.call_id) if s.idx == target.segment_idx)
        store.correct_segment(target.call_id, segment.idx, f"{segment.text}，他表哥的电话是{PLANTED}")
        built = ReviewedCase(case_dir, inputs, [store.get_flag(f.id) for f in accepted], store.get_flag(rejected.id),
                             store.get_flag(pending.id), target.call_id)
    _BUILT["case"] = built
    return built


def unpack(pack: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    assert safe_extract(pack, dest) == []
    return dest


def docx_text(path: Path) -> str:
    document = Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def pack_texts(root: Path) -> dict[str, str]:
    """Every text output of an unpacked pack (the docx as its text); recordings left out."""
    texts = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if not path.is_file() or name.startswith(("originals/", "excerpts/")):
            continue
        texts[name] = docx_text(path) if name.endswith(".docx") else path.read_text(encoding="utf-8")
    return texts


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> ReviewedCase:
    return reviewed_case(tmp_path_factory)


@pytest.fixture(scope="module")
def pack(case: ReviewedCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default export (accepted flags only, no redaction), unpacked."""
    out = tmp_path_factory.mktemp("pack") / "pack.zip"
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return unpack(out, out.parent / "unpacked")


@pytest.fixture(scope="module")
def redacted_pack(case: ReviewedCase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("redacted") / "pack.zip"
    export_pack(case.case_dir, out, PackOptions(redact=True, include_pending=True))
    assert verify_pack(out).ok
    return unpack(out, out.parent / "unpacked")


# ------------------------------------------------------------------ layout and contents


def test_pack_has_the_layout_of_evidence_md(case: ReviewedCase, pack: Path) -> None:
    names = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    with CaseStore.open(case.case_dir) as store:
        call_ids = [c.id for c in store.iter_calls()]
        packed = collect(store, PackOptions())
    expected = {"README.txt", "manifest.json", "manifest.sig", "SHA256SUMS", "custody.jsonl", "timeline.csv", "index.html",
                "evidence_list.docx", *COMPLAINTS, "complaints/核对清单.txt",
                *(f"originals/{n}" for n in SAMPLE_FILES),
                *(transcript_path(pc, ext) for pc in packed.calls for ext in ("html", "json", "txt"))}
    excerpts = {n for item in packed.items for n in item.excerpt_names}
    assert names == expected | excerpts
    assert len(call_ids) == len(packed.calls)
    for name in excerpts:  # readable: item number, local date and time, category
        assert re.fullmatch(r"excerpts/\d{2}[a-z]?_\d{4}-\d\d-\d\d_\d{4}_\w+\.wav", name), name
    for pc in packed.calls:
        assert re.fullmatch(r"transcripts/\d{4}-\d\d-\d\d_\d{4}_\d+\.html", transcript_path(pc, "html"))


def test_originals_are_byte_identical_to_the_users_files(case: ReviewedCase, pack: Path) -> None:
    for name in SAMPLE_FILES:
        assert (pack / "originals" / name).read_bytes() == (case.inputs / name).read_bytes()


def test_excerpts_are_lossless_cuts_at_the_original_rate(case: ReviewedCase, pack: Path) -> None:
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    described = {e["path"]: e for e in manifest["excerpts"]}
    with CaseStore.open(case.case_dir) as store:  # one clip per sentence, plus one for a flag outside it
        names = {n for item in collect(store, PackOptions()).items for n in item.excerpt_names}
    assert set(described) == names and len(names) <= len([f for f in case.accepted if f.level == "segment"])
    rates = {"13912345678_20240116093015.m4a": 8000, "通话录音@张三(13800138000)_20240115223402.mp3": 16000}
    for name, entry in described.items():
        original = decode_native(pack / entry["original"])
        samples, rate = read_wav(pack / name)
        assert rate == original.sample_rate == rates[entry["original"].split("/", 1)[1]]
        span = excerpt_range(entry["flag_start_s"], entry["flag_end_s"], 2.0, rate, original.frames)
        assert (span.start_frame, span.end_frame) == (entry["start_frame"], entry["end_frame"])
        assert np.array_equal(samples, original.samples[:, span.start_frame:span.end_frame])
        assert sf.info(str(pack / name)).subtype == "FLOAT"  # these decoders give float: stored as float


def test_manifest_records_tool_model_rules_options_and_every_file(case: ReviewedCase, pack: Path) -> None:
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["schema"] == "callproof.pack/1" and manifest["tool"]["version"]
    assert manifest["created"]["utc"].endswith("Z") and re.search(r"[+-]\d\d:\d\d$", manifest["created"]["local"])
    assert manifest["engines"] == [{"engine": "faster-whisper", "model": "whisper-base",
                                    "model_sha256": manifest["engines"][0]["model_sha256"]}]
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["engines"][0]["model_sha256"])
    packs = {p["name"]: p for p in manifest["rule_packs"]}
    # the rule pack and, for the model tier, its encoder and trained artefact: each with its SHA-256
    assert "zh-collection" in packs and any(name.startswith("model.") for name in packs), list(packs)
    assert all(re.fullmatch(r"[0-9a-f]{64}", p["sha256"]) for p in packs.values()), packs
    assert manifest["options"]["include_pending"] is False and manifest["options"]["redact"] is False
    assert manifest["redaction"]["applied"] is False
    assert manifest["flags"]["left_out"] == {"rejected": 1, "pending": 1}
    files = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    assert set(files) == on_disk - {"manifest.json", "manifest.sig", "SHA256SUMS"}
    for name, entry in files.items():
        data = (pack / name).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    for call in manifest["calls"]:
        assert call["sha256"] == hashlib.sha256((pack / call["original"]).read_bytes()).hexdigest()


def test_sha256sum_checks_the_unpacked_pack(pack: Path) -> None:
    sha256sum = shutil.which("sha256sum")
    if sha256sum is None:
        pytest.skip("no sha256sum on this machine")
    import subprocess

    run = subprocess.run([sha256sum, "-c", "SHA256SUMS"], cwd=pack, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count(": OK") == len((pack / "SHA256SUMS").read_text().splitlines())


def test_custody_log_is_chained_and_ends_with_the_export(case: ReviewedCase, pack: Path) -> None:
    text = (pack / "custody.jsonl").read_text(encoding="utf-8")
    assert verify_jsonl(text) == []
    events = [json.loads(line) for line in text.splitlines()]
    export = events[-1]
    assert export["action"] == "export"
    assert sorted(export["detail"]["flags"]) == sorted(f.id for f in case.accepted)
    sums = dict(reversed(line.split("  ", 1)) for line in (pack / "SHA256SUMS").read_text().splitlines())
    for name, digest in export["detail"]["files"].items():
        assert sums[name] == digest
    with CaseStore.open(case.case_dir) as store:
        actions = [e.action for e in store.custody_events()]
        assert "export" in actions and "export_written" in actions
        assert store.verify_custody() == []


def test_evidence_list_has_one_row_per_sentence_in_a_chinese_font(case: ReviewedCase, pack: Path) -> None:
    document = Document(str(pack / "evidence_list.docx"))
    table = document.tables[0]
    assert tuple(c.text for c in table.rows[0].cells) == HEADERS
    rows = table.rows[1:]
    with CaseStore.open(case.case_dir) as store:
        items = collect(store, PackOptions()).items
    assert len(rows) == len(items) and sum(len(i.flags) for i in items) == len(case.accepted)
    assert [r.cells[0].text for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    text = docx_text(pack / "evidence_list.docx")
    for flag in case.accepted:
        assert category_label(flag.category) in text
    with CaseStore.open(case.case_dir) as store:
        for call in store.iter_calls():
            assert call.sha256 in text
    assert NOTE in text and MACHINE_NOTICE in text
    fonts = [r._r.rPr.rFonts.get(qn("w:eastAsia")) for p in table.rows[1].cells[5].paragraphs for r in p.runs]
    assert fonts and set(fonts) == {"宋体"}
    assert document.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"


def without_model_neighbours(name: str, text: str) -> str:
    """A model flag names the labels of its nearest labelled corpus examples: those are not flags."""
    if name.endswith(".json"):
        def strip(value: object) -> object:
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k != "neighbours"}
            return [strip(v) for v in value] if isinstance(value, list) else value

        return json.dumps(strip(json.loads(text)), ensure_ascii=False)
    return re.sub(r"与这些已标注例句相似：[^<\n]*", "", text)


def test_rejected_and_pending_flags_appear_nowhere(case: ReviewedCase, pack: Path) -> None:
    texts = pack_texts(pack)
    for flag in (case.rejected, case.pending):
        own = [r for r in own_rules(flag) if sum(r in own_rules(g) for g in [*case.accepted, case.rejected, case.pending]) == 1]
        assert flag is case.pending or own  # the rejected flag has a rule-tier id of its own
        assert all(r not in text for r in own for text in texts.values())  # not even in custody.jsonl
        for name, text in texts.items():
            if name == "custody.jsonl":  # the review decision itself is part of the chain of custody
                continue
            text = without_model_neighbours(name, text)
            assert flag.category not in text, name
            assert category_label(flag.category) not in text, name
            assert f'data-flag-id="{flag.id}"' not in text
        # one sentence is one evidence item: a sentence that also carries an accepted category is quoted for it
        shared = any(a.call_id == flag.call_id and a.segment_idx == flag.segment_idx for a in case.accepted)
        for name in ("evidence_list.docx", "timeline.csv", *(n for n in texts if n.startswith("complaints/"))):
            assert shared or flag.match_text not in texts[name], name
        for name in (n for n in texts if n.endswith(".json") and n.startswith("transcripts/")):
            assert flag.id not in [f["id"] for f in json.loads(texts[name])["flags"]]


def test_include_pending_marks_pending_flags(case: ReviewedCase, redacted_pack: Path) -> None:
    texts = pack_texts(redacted_pack)
    label = category_label(case.pending.category)
    assert label in texts["evidence_list.docx"]
    assert re.search(re.escape(label) + r"【待复核】", texts["evidence_list.docx"])
    name = next(n for n in texts if n.startswith("transcripts/") and n.endswith(".json")
                and json.loads(texts[n])["call"]["id"] == case.pending.call_id)
    call_json = json.loads(texts[name])
    entry = next(f for f in call_json["flags"] if f["id"] == case.pending.id)
    assert entry["status"] == "pending" and entry["status_label"] == "待复核"
    assert "待复核" in texts[name.replace(".json", ".html")]
    assert any("待复核" in texts[n] for n in texts if n.startswith("complaints/"))
    assert not any(r in "".join(texts.values()) for r in own_rules(case.rejected)
                   if sum(r in own_rules(g) for g in case.accepted) == 0)


def test_transcripts_link_the_packs_own_originals_and_carry_flag_details(case: ReviewedCase, pack: Path) -> None:
    from urllib.parse import unquote

    pages = {json.loads(p.read_text(encoding="utf-8"))["call"]["id"]: p.with_suffix("")
             for p in (pack / "transcripts").glob("*.json")}
    for call_id in {f.call_id for f in case.accepted}:
        stem = pages[call_id]
        html = stem.with_suffix(".html").read_text(encoding="utf-8")
        src = re.search(r'<audio id="player"[^>]* src="([^"]+)"', html).group(1)
        assert (pack / "transcripts" / unquote(src)).resolve().is_file()
        assert unquote(src).startswith("../originals/")
        assert MACHINE_NOTICE in html and "/tmp" not in html
        document = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        assert document["notice"] == MACHINE_NOTICE
        assert document["transcript"]["source"]["path"].startswith("originals/")
        for flag in (f for f in case.accepted if f.call_id == call_id and f.level == "segment"):
            entry = next(e for e in document["flags"] if e["id"] == flag.id)
            if entry["excerpt"]:  # a sentence's clip is listed with its first flag (others only when outside it)
                assert f'href="../{entry["excerpt"]}"' in unquote(html) and entry["excerpt"].startswith("excerpts/")
            for key in ("match_text", "start_s", "end_s", "category", "rule", "legal_basis", "speaker", "note"):
                assert key in entry
        txt = stem.with_suffix(".txt").read_text(encoding="utf-8")
        assert MACHINE_NOTICE in txt and re.search(r"^\[00:00:\d\d\.\d{3} --> ", txt, re.M)


def test_timeline_lists_every_call_with_flag_counts(case: ReviewedCase, pack: Path) -> None:
    import csv

    rows = list(csv.reader((pack / "timeline.csv").read_text(encoding="utf-8-sig").splitlines()))
    header, body = rows[0], rows[1:]
    assert len(body) == len(SAMPLE_FILES)
    assert sorted(r[header.index("号码")] for r in body) == sorted(COLLECTOR_NUMBERS)
    total = sum(int(cell) for r in body for h, cell in zip(header, r, strict=True)
                if re.search(r"\([A-Z_]+\)$", h))
    assert total == len(case.accepted)


def test_complaints_are_filled_from_the_case_and_cite_only_checked_bases(case: ReviewedCase, pack: Path) -> None:
    texts = {n: t for n, t in pack_texts(pack).items() if n.startswith("complaints/")}
    assert set(texts) == {*COMPLAINTS, "complaints/核对清单.txt"}
    texts.pop("complaints/核对清单.txt")  # the user's checklist, not a draft
    unchecked = [basis_citation(b) for b, status in BASIS_STATUS.items() if status not in "VN"]
    assert all(c.endswith("（待核实）") for c in unchecked)  # cited, if ever, only marked so
    for name, text in texts.items():
        if name in DRAFTS:  # the other channels' drafts have their own tests
            assert all(number in text for number in COLLECTOR_NUMBERS), name
        assert "{{" not in text and "{%" not in text
        assert not any(label in text for label in unchecked) and "待核实" not in text
    statement = texts["complaints/110_statement.txt"]
    times = re.findall(r"^\d+\. (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", statement, re.M)
    assert times == sorted(times) and len(times) == len(SAMPLE_FILES)
    threat = next(f for f in case.accepted if f.category == "VIOLENCE_THREAT")
    assert f"“{threat.match_text}" in statement or threat.match_text in statement
    cited = texts["complaints/12378.txt"]
    assert re.search(r"第\d+条", cited)  # legal basis cited by article
    assert "秒" in texts["complaints/12321.txt"] and "【本人手机号】" in texts["complaints/12321.txt"]


def test_readme_explains_checking_with_sha256sum(pack: Path) -> None:
    readme = (pack / "README.txt").read_text(encoding="utf-8")
    assert "sha256sum -c SHA256SUMS" in readme and "证据包" in readme and MACHINE_NOTICE in readme


# ------------------------------------------------------------------ redaction


def test_redaction_masks_the_planted_number_in_every_text_file(case: ReviewedCase, pack: Path,
                                                               redacted_pack: Path) -> None:
    plain = pack_texts(pack)
    assert any(PLANTED in text for text in plain.values())  # the number is there without --redact
    texts = pack_texts(redacted_pack)
    for name, text in texts.items():
        assert PLANTED not in text, name
    carriers = [n for n in texts if PLANTED_MASKED in texts[n]]
    stem = next(n for n in texts if n.startswith("transcripts/") and n.endswith(".json")
                and json.loads(texts[n])["call"]["id"] == case.planted_call).removesuffix(".json")
    for name in ("evidence_list.docx", f"{stem}.html", f"{stem}.json", f"{stem}.txt", "custody.jsonl"):
        assert name in carriers
    assert any(n.startswith("complaints/") for n in carriers)
    for number in COLLECTOR_NUMBERS:  # the numbers the complaint is about stay readable
        assert number in texts["complaints/12321.txt"]
    for name in SAMPLE_FILES:
        assert (redacted_pack / "originals" / name).read_bytes() == (case.inputs / name).read_bytes()
    manifest = json.loads(texts["manifest.json"])
    assert manifest["redaction"]["applied"] is True and manifest["redaction"]["custody_rechained"] is True
    assert verify_jsonl(texts["custody.jsonl"]) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("他表哥电话13712345678你打", "他表哥电话137****5678你打"),
    ("电话 137 1234 5678。", "电话 137 **** 5678。"),
    ("+86 13712345678", "+86 137****5678"),
    ("号码是幺三七一二三四五六七八", "号码是幺三七****五六七八"),
    ("座机010-12345678", "座机010-****5678"),
    ("身份证11010519491231002X", "身份证**************002X"),
    ("卡号6222021234567890123", "卡号***************0123"),
    ("卡号 6222 0212 3456 7890", "卡号 **** **** **** 7890"),
    ("催收号码13800138000打来", "催收号码13800138000打来"),  # the call's own number is kept
    ("欠款12000元，逾期3个月", "欠款12000元，逾期3个月"),
    ("sha e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", None),
    ("2024-01-16 09:30:15", None),
])
def test_redactor_masks_numbers_and_keeps_lengths(text: str, expected: str | None) -> None:
    redactor = Redactor.keeping(["13800138000"])
    masked = redactor.text(text)
    assert masked == (text if expected is None else expected)
    assert len(masked) == len(text)


def test_redactor_leaves_hash_fields_alone() -> None:
    value = {"sha256": "13712345678", "text": "13712345678", "nested": [{"prev_hash": "13712345678"}]}
    assert Redactor().value(value) == {"sha256": "13712345678", "text": "137****5678",
                                       "nested": [{"prev_hash": "13712345678"}]}


# ------------------------------------------------------------------ determinism and options


def _entries(path: Path) -> dict[str, tuple]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: (archive.read(i), i.date_time, i.external_attr, i.compress_type)
                for i in archive.infolist()}


def test_exporting_twice_gives_identical_files_except_manifest_and_custody(case: ReviewedCase, tmp_path: Path) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    export_pack(case.case_dir, first, PackOptions())
    export_pack(case.case_dir, second, PackOptions())
    a, b = _entries(first), _entries(second)
    with zipfile.ZipFile(first) as za, zipfile.ZipFile(second) as zb:
        assert [i.filename for i in za.infolist()] == [i.filename for i in zb.infolist()]
    changing = {"manifest.json", "manifest.sig", "custody.jsonl", "SHA256SUMS"}
    for name in a:
        if name not in changing:
            assert a[name] == b[name], name
    sums_a, sums_b = (dict(reversed(line.split("  ", 1)) for line in x["SHA256SUMS"][0].decode().splitlines())
                      for x in (a, b))
    assert {k for k in sums_a if sums_a[k] != sums_b[k]} <= {"manifest.json", "manifest.sig", "custody.jsonl"}
    manifest_a, manifest_b = (json.loads(x["manifest.json"][0]) for x in (a, b))
    for key in manifest_a:
        if key not in ("created", "files", "custody"):
            assert manifest_a[key] == manifest_b[key], key
    assert {e[2] >> 16 for e in a.values()} == {0o100644}


def test_calls_and_date_filters_choose_calls(case: ReviewedCase, tmp_path: Path) -> None:
    with CaseStore.open(case.case_dir) as store:
        calls = list(store.iter_calls())
    out = tmp_path / "one.zip"
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out), "--calls", calls[0].id[:6]])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        originals = [n for n in archive.namelist() if n.startswith("originals/")]
    assert originals == [f"originals/{Path(calls[0].source_path).name}"]
    day = calls[1].start_time[:10]
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out), "--from", day, "--to", day])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        assert [n for n in archive.namelist() if n.startswith("originals/")] == [
            f"originals/{Path(calls[1].source_path).name}"]
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out), "--calls", "ffffffff"])
    assert result.exit_code == 2 and "--calls" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["export", str(case.case_dir), "-o", str(out), "--from", "2024-13-01"])
    assert result.exit_code == 2


# ------------------------------------------------------------------ originals that changed or vanished


def _small_case(root: Path, audio_name: str = "13912345678_20240116093015.m4a") -> tuple[Path, Path]:
    """A one-call case (truth transcript, real rules) whose recording lives in ``root/recordings``."""
    recordings = root / "recordings"
    recordings.mkdir()
    stem = audio_name.rsplit(".", 1)[0]
    shutil.copy2(SAMPLES / audio_name, recordings / audio_name)
    shutil.copy2(SAMPLES / f"{stem}.truth.json", recordings / f"{stem}.truth.json")
    with build_case(root / "case", recordings) as store:
        for flag in store.all_flags():
            store.set_flag_status(flag.id, "accepted")
    return root / "case", recordings / audio_name


def test_export_stops_when_an_original_changed_or_vanished(tmp_path: Path) -> None:
    case_dir, audio = _small_case(tmp_path)
    audio.write_bytes(audio.read_bytes()[:-1] + b"\0")
    out = tmp_path / "pack.zip"
    with pytest.raises(InputError, match="原始录音已被改动"):
        export_pack(case_dir, out, PackOptions())
    result = CliRunner().invoke(main, ["export", str(case_dir), "-o", str(out)])
    assert result.exit_code == 2 and "原始录音已被改动" in result.output and "Traceback" not in result.output
    audio.unlink()
    result = CliRunner().invoke(main, ["export", str(case_dir), "-o", str(out)])
    assert result.exit_code == 2 and "原始录音不见了" in result.output
    assert not out.exists() and not list(tmp_path.glob(".*partial")) and not list(tmp_path.glob(".callproof-export-*"))


def test_export_of_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(tmp_path), "-o", str(tmp_path / "p.zip")])
    assert result.exit_code == 2 and "不是案件文件夹" in result.output


def test_stereo_pcm_original_gives_int16_stereo_excerpts(tmp_path: Path) -> None:
    """A 16-bit stereo WAV decodes to packed s16: the excerpt keeps both channels and the integers."""
    recordings = tmp_path / "wav"
    recordings.mkdir()
    source = decode_native(SAMPLES / "13912345678_20240116093015.m4a")
    mono = np.clip(source.samples[0] * 32767, -32768, 32767).astype(np.int16)
    stereo = np.stack([mono, (mono // 3).astype(np.int16)])
    wav = recordings / "13912345678_20240116093015.wav"
    wav.write_bytes(wav_bytes(stereo, source.sample_rate))
    truth = json.loads((SAMPLES / "13912345678_20240116093015.truth.json").read_text(encoding="utf-8"))
    truth["file"] = wav.name
    (recordings / "13912345678_20240116093015.truth.json").write_text(json.dumps(truth), encoding="utf-8")
    with build_case(tmp_path / "case", recordings) as store:
        for flag in store.all_flags():
            store.set_flag_status(flag.id, "accepted")
    out = tmp_path / "pack.zip"
    export_pack(tmp_path / "case", out, PackOptions())
    report = verify_pack(out)
    assert report.ok, report.problems
    assert report.excerpts_checked >= 3
    root = unpack(out, tmp_path / "unpacked")
    for clip in (root / "excerpts").iterdir():
        samples, rate = read_wav(clip)
        assert samples.dtype == np.int16 and samples.shape[0] == 2 and rate == 8000
        assert sf.info(str(clip)).subtype == "PCM_16"
    decoded = decode_native(wav)
    assert decoded.sample_format == "s16" and np.array_equal(decoded.samples, stereo)


def test_excerpt_range_pads_two_seconds_and_clamps() -> None:
    assert excerpt_range(5.0, 6.0, 2.0, 8000, 100_000) == excerpt_range(5.0, 6.0, 2.0, 8000, 100_000)
    span = excerpt_range(16.9, 17.34, 2.0, 16000, 10**6)
    assert (span.start_frame, span.end_frame) == (238400, 309440)
    span = excerpt_range(0.5, 1.0, 2.0, 8000, 12_000)
    assert (span.start_frame, span.end_frame) == (0, 12_000)


@pytest.mark.parametrize(("text", "match", "expected"), [
    ("喂,是王强吗。等不了,你这个老赖,真不要脸。你们是不是要抱我通讯路?", "老赖", "等不了,你这个老赖,真不要脸。"),
    ("你好。对!明天就上门。", "上门", "对!明天就上门。"),
    ("让你们全家都不得安宁", "全家", "让你们全家都不得安宁"),
])
def test_complaints_quote_the_sentence_with_the_flag(text: str, match: str, expected: str) -> None:
    start = text.index(match)
    assert sentence_around(text, start, start + len(match)) == expected


def test_adapted_templates_are_used_and_bad_ones_named(tmp_path: Path) -> None:
    case_dir, _ = _small_case(tmp_path)
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "12321.txt.j2").write_text("NGO 版本：{{ numbers[0].number }}，{{ calls|length }} 通\n", encoding="utf-8")
    out = tmp_path / "pack.zip"
    export_pack(case_dir, out, PackOptions(templates_dir=custom))
    with zipfile.ZipFile(out) as archive:
        assert archive.read("complaints/12321.txt").decode() == "NGO 版本：13912345678，1 通\n"
        assert "12378 金融消费投诉" in archive.read("complaints/12378.txt").decode()  # default behind it
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["options"]["templates"] == "custom"
    assert manifest["templates"]["12321.txt.j2"] == hashlib.sha256((custom / "12321.txt.j2").read_bytes()).hexdigest()
    (custom / "12321.txt.j2").write_text("第一行\n{% for x in calls %}\n{{ x.no }\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["export", str(case_dir), "-o", str(out), "--templates", str(custom)])
    assert result.exit_code == 2 and "12321.txt.j2:3" in result.output and "模板语法错误" in result.output
    (custom / "12321.txt.j2").write_text("{{ no_such_field }}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["export", str(case_dir), "-o", str(out), "--templates", str(custom)])
    assert result.exit_code == 2 and "no_such_field" in result.output and "Traceback" not in result.output


def test_a_case_nobody_reviewed_exports_calls_without_flags(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("13912345678_20240116093015.m4a", "13912345678_20240116093015.truth.json"):
        shutil.copy2(SAMPLES / name, recordings / name)
    build_case(tmp_path / "case", recordings).close()
    out = tmp_path / "pack.zip"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "case"), "-o", str(out)])
    assert result.exit_code == 0 and "没有已确认的标记" in result.output
    assert verify_pack(out).ok
    root = unpack(out, tmp_path / "unpacked")
    assert not (root / "excerpts").exists() and (root / "originals" / "13912345678_20240116093015.m4a").is_file()
    assert len(Document(str(root / "evidence_list.docx")).tables[0].rows) == 1
    assert "尚无经复核确认的违规内容" in (root / "complaints" / "12321.txt").read_text(encoding="utf-8")


def test_cut_native_keeps_only_the_asked_frames_and_clamps_at_the_end() -> None:
    from pipeline.evidence.excerpts import ExcerptRange, cut_native

    oga = SAMPLES / "20240116_213000.123+0800_in_13800138000.oga"
    whole = decode_native(oga)
    assert (whole.sample_rate, whole.channels) == (48000, 2)
    spans = [ExcerptRange(0, 1000), ExcerptRange(48000, 150000), ExcerptRange(whole.frames - 10, whole.frames + 500),
             ExcerptRange(whole.frames + 10, whole.frames + 20)]
    clips = cut_native(oga, lambda rate: spans if rate == 48000 else [])
    assert clips.total_frames == whole.frames and clips.sample_format == "fltp"
    for span, clip, clamped in zip(spans, clips.clips, clips.ranges, strict=True):
        assert np.array_equal(clip, whole.samples[:, span.start_frame:span.end_frame])
        assert clamped.frames == clip.shape[1]
    assert clips.clips[2].shape == (2, 10) and clips.clips[3].shape == (2, 0)


def test_a_full_disk_gives_one_line_and_leaves_nothing_half_written(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import pipeline.evidence.pack as pack_module

    case_dir, _ = _small_case(tmp_path)
    out = tmp_path / "out" / "pack.zip"

    def full_disk(target: Path, *args: object, **kwargs: object) -> dict[str, str]:
        Path(target).write_bytes(b"PK partial")  # some bytes made it before the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pack_module, "write_zip", full_disk)
    result = CliRunner().invoke(main, ["export", str(case_dir), "-o", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output and "[red]" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "磁盘空间不足" in lines[0] and str(out) in lines[0] and "MB" in lines[0], lines
    assert not out.exists() and list(out.parent.iterdir()) == []
