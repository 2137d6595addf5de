"""`export --redact` holds for every file of the pack, and no CSV cell can run as a formula.

The case: the sample calls (truth transcripts, no ASR) plus an SMS backup and a QQ chat export
written here, full of third parties' numbers spelt every way (separators, widths, spoken and
formal Chinese digits), in message text, a contact name, a file name and a folder name (the
``received_by`` label). A property test generates the spellings; the pack test asserts that
none survives in any text file of the redacted pack, originals' redacted copies included.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import zipfile
from pathlib import Path

import pytest
from docx import Document
from message_fixtures import COLLECTOR, READER
from review_fixtures import SAMPLES, build_case

from pipeline.evidence import PackOptions, export_pack, verify_pack
from pipeline.evidence.csv_cells import safe_cell
from pipeline.evidence.redact import Redactor
from pipeline.messages.importer import discover_messages, import_messages
from pipeline.rules import load_engine

_SPOKEN = "零一二三四五六七八九"
_SPOKEN_ONE = "零幺二三四五六七八九"
_FORMAL = "零壹贰叁肆伍陆柒捌玖"
_WIDE = "０１２３４５６７８９"
_SEPARATORS = [" ", "  ", "   ", "-", ".", "．", "－", "\u3000", " - ", "—", "·", "\u00a0"]
_DIGIT_OF = {ch: str(i) for table in (_SPOKEN, _SPOKEN_ONE, _FORMAL, _WIDE) for i, ch in enumerate(table)}
_DIGIT_OF.update({"〇": "0"})


def spell(number: str, rng: random.Random) -> str:
    """One way a person might write ``number``: digit style per group, separators, +86."""
    cuts = rng.choice([[3, 7], [3, 7], [3, 6, 9], [], [4, 8], sorted(rng.sample(range(1, len(number)), 2))])
    groups = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
    styles = [str.maketrans("0123456789", table) for table in (_SPOKEN, _SPOKEN_ONE, _FORMAL, _WIDE)] + [None]
    mixed = rng.random() < 0.3  # one style per group, or one for the whole number
    style = rng.choice(styles)
    out = []
    for group in groups:
        chosen = rng.choice(styles) if mixed else style
        out.append(group.translate(chosen) if chosen else group)
    text = out[0] + "".join(rng.choice(_SEPARATORS) + g for g in out[1:])
    prefix = rng.choice(["", "", "+86 ", "+86", "＋８６ ", "0086-"])
    return prefix + text


def digits_view(text: str) -> str:
    """``text`` with every digit in ASCII and separators between digits removed: any spelling of
    a number becomes its plain digits, so a search for them finds it."""
    plain = "".join(_DIGIT_OF.get(ch, ch) for ch in text)
    return re.sub(r"(?<=\d)[\s\-.．－—·()（）]{1,3}(?=\d)", "", plain)


def third_party_numbers(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}")
    return sorted(numbers)


@pytest.mark.parametrize("seed", range(8))
def test_generated_spellings_of_a_number_never_survive(seed: int) -> None:
    rng = random.Random(seed)
    redactor = Redactor.keeping([COLLECTOR])
    for number in third_party_numbers(60, seed):
        spelt = spell(number, rng)
        text = f"他表哥的电话是{spelt}，打过去"
        masked = redactor.text(text)
        assert len(masked) == len(text)
        assert number not in digits_view(masked), (spelt, masked)
        assert number[-4:] in digits_view(masked)  # the last 4 stay, for telling numbers apart
    kept = redactor.text(f"催收号码 {spell(COLLECTOR, rng)} 又打来")
    assert COLLECTOR in digits_view(kept)


@pytest.mark.parametrize(("text", "expected"), [
    ("１３７１２３４５６７２", "１３７****５６７２"),
    ("137.1234.5673", "137.****.5673"),
    ("137   1234   5674", "137   ****   5674"),
    ("壹叁柒壹贰叁肆伍陆柒捌", "壹叁柒****伍陆柒捌"),
    ("（１３７）１２３４－５６７８", "（１３７）****－５６７８"),
    ("137 1234 5678 和 139 8765 4321", "137 **** 5678 和 139 **** 4321"),
    ("2024.01.16 10:00，共 3 次", None),
])
def test_more_spellings(text: str, expected: str | None) -> None:
    assert Redactor().text(text) == (text if expected is None else expected)


# ------------------------------------------------------------------ a whole redacted pack

NUMBERS = third_party_numbers(40, 1234)
IN_NAMES = NUMBERS[:3]  # in a folder name (received_by), a file name, a contact name
FORMULA_NAME = '=HYPERLINK("http://evil.example/","点我")'


def _sms_xml(rng: random.Random) -> str:
    lines = []
    for i, number in enumerate(NUMBERS[3:23]):
        body = f"你表哥{spell(number, rng)}我们已经打过了，第{i}次".replace("&", "&amp;").replace('"', "&quot;")
        lines.append(f'  <sms address="{COLLECTOR}" date="{1705370400000 + i * 60000}" type="1" body="{body}" />')
    lines.append(f'  <sms address="{COLLECTOR}" date="1705370300000" type="1" contact_name="{FORMULA_NAME.replace(chr(34), "&quot;")}" '
                 f'body="@SUM(1+1) 不还钱就曝光 {IN_NAMES[2]}" />')
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
            f'<smses count="{len(lines)}">\n' + "\n".join(lines) + "\n</smses>\n")


def _qq_chat(rng: random.Random) -> str:
    head = ("消息记录（此消息记录为文本格式，不支持重新导入）\n\n"
            "================================================================\n消息分组:我的好友\n"
            "================================================================\n消息对象:催收-李四\n"
            "================================================================\n\n")
    body = "".join(f"2024-01-16 12:{i:02d}:00 催收-李四\n你同事{spell(n, rng)}也会接到电话\n\n"
                   for i, n in enumerate(NUMBERS[23:]))
    return head + body


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("redaction")
    rng = random.Random(99)
    inputs = root / "INPUT"
    (inputs / f"表哥{IN_NAMES[0]}").mkdir(parents=True)
    (inputs / f"表哥{IN_NAMES[0]}" / f"sms-{IN_NAMES[1]}.xml").write_text(_sms_xml(rng), encoding="utf-8")
    (inputs / "=同事").mkdir()
    (inputs / "=同事" / "qq.txt").write_text(_qq_chat(rng), encoding="gb18030")
    store = build_case(root / "case", SAMPLES)
    try:
        report = import_messages(store, discover_messages(inputs), load_engine(), inputs, reader=READER)
        assert not report.failed, [o.error for o in report.failed]
        for flag in store.message_flags():
            store.set_message_flag_status(flag.id, "accepted")
        for flag in store.all_flags():
            store.set_flag_status(flag.id, "accepted")
    finally:
        store.close()
    out = {}
    for name, redact in (("plain", False), ("redacted", True)):
        out[name] = root / f"{name}.zip"
        export_pack(root / "case", out[name], PackOptions(redact=redact))
    out["inputs"] = inputs
    return out


def _text_files(pack: Path) -> dict[str, str]:
    """Every file of the pack that holds text, as text (the docx by its document XML)."""
    texts = {}
    with zipfile.ZipFile(pack) as archive:
        recordings = {c["original"] for c in json.loads(archive.read("manifest.json"))["calls"]}
        for name in archive.namelist():
            data = archive.read(name)
            texts[f"name:{name}"] = name
            if name in recordings or name.lower().endswith((".wav", ".png", ".jpg")):
                continue  # cannot be masked (listed so in the manifest)
            if name.endswith(".docx"):
                document = Document(io.BytesIO(data))
                cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
                texts[name] = "\n".join([p.text for p in document.paragraphs] + cells)
                with zipfile.ZipFile(io.BytesIO(data)) as docx:
                    texts[name + ":xml"] = "\n".join(docx.read(n).decode() for n in docx.namelist() if n.endswith(".xml"))
                continue
            for encoding in ("utf-8", "gb18030"):
                try:
                    texts[name] = data.decode(encoding)
                    break
                except UnicodeDecodeError:
                    continue
            else:
                raise AssertionError(f"{name} is neither UTF-8 nor GB18030")
    return texts


def test_no_generated_number_survives_anywhere_in_a_redacted_pack(packs: dict[str, Path]) -> None:
    plain = _text_files(packs["plain"])
    assert sum(any(n in digits_view(t) for t in plain.values()) for n in NUMBERS) == len(NUMBERS)  # all planted
    texts = _text_files(packs["redacted"])
    for name, text in texts.items():
        view = digits_view(text)
        survivors = [n for n in NUMBERS if n in view]
        assert not survivors, (name, survivors)
    assert COLLECTOR in digits_view(texts["complaints/12321.txt"])  # the collector's number stays readable
    assert verify_pack(packs["redacted"]).ok


def test_redacted_pack_holds_masked_copies_of_text_originals(packs: dict[str, Path]) -> None:
    with zipfile.ZipFile(packs["redacted"]) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        copies = {n: archive.read(n) for n in names if n.startswith("originals_redacted/")}
    assert not [n for n in names if n.startswith("originals/") and n.endswith((".xml", ".txt"))]
    assert len(copies) == 2
    entries = {e["redacted_copy"]: e for e in manifest["message_files"]}
    inputs = packs["inputs"]
    for path, data in copies.items():
        entry = entries[path]
        source = next(p for p in inputs.rglob("*") if p.is_file() and p.suffix == Path(path).suffix)
        assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()  # the original's, beside it
        assert entry["original"].startswith("originals/")
        assert hashlib.sha256(data).hexdigest() != entry["sha256"]
    qq = next(d for p, d in copies.items() if p.endswith("qq.txt"))
    assert qq.decode("gb18030").startswith("消息记录")  # the original's own encoding
    redaction = manifest["redaction"]
    assert {e["path"] for e in redaction["redacted_originals"]} == set(copies)
    assert all(n.startswith(("originals/", "excerpts/")) for n in redaction["not_masked"])
    assert "originals_redacted/" in redaction["scope"]
    with zipfile.ZipFile(packs["plain"]) as archive:  # the unredacted pack keeps every original
        plain_originals = {n: archive.read(n) for n in archive.namelist() if n.endswith((".xml", "qq.txt"))
                           and n.startswith("originals/")}
    assert sorted(hashlib.sha256(d).hexdigest() for d in plain_originals.values()) == sorted(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs.rglob("*") if p.is_file())


def test_csv_cells_never_start_a_formula(packs: dict[str, Path]) -> None:
    with zipfile.ZipFile(packs["plain"]) as archive:
        tables = {n: archive.read(n).decode("utf-8-sig") for n in ("timeline.csv", "contacts_reached.csv")}
    cells = {n: [c for row in csv.reader(io.StringIO(t)) for c in row] for n, t in tables.items()}
    assert any(c == "'" + FORMULA_NAME for c in cells["timeline.csv"])
    assert any(c.startswith("'=同事") for c in cells["contacts_reached.csv"])
    for name, values in cells.items():
        assert not [c for c in values if c[:1] in ("=", "+", "-", "@", "\t", "\r")], name


@pytest.mark.parametrize(("cell", "expected"), [
    ("=1+1", "'=1+1"), ("+8613712345678", "'+8613712345678"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("＝1", "'＝1"), ("催收-李四", "催收-李四"), ("13800138000", "13800138000"),
])
def test_safe_cell(cell: str, expected: str) -> None:
    assert safe_cell(cell) == expected
