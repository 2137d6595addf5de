"""The contacts-reached table on a case whose input folder holds recordings and messages for three
people, and the person / relation helpers behind it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from test_messages import QQ_EXPORT, SMS_XML, write  # tests/ is on sys.path

from pipeline.audio import sha256_file
from pipeline.calls import CallMeta
from pipeline.contacts_reached import contacts_reached, person_from_path, relation_of, to_markdown
from pipeline.messages.importer import discover_messages, import_messages
from pipeline.rules import load_engine
from pipeline.store.messages import open_store

COLLECTOR, OTHER = "13800138000", "13912345678"


@pytest.mark.parametrize(("relative", "person"), [
    ("本人/a.m4a", "本人"),
    ("母亲/wechat/chat.txt", "母亲"),
    ("同事王某/Screenshot_1.png", "同事王某"),
    ("a.m4a", None),  # directly under INPUT: nobody named
    ("13800138000/rec.amr", None),  # a recorder's per-number folder
    ("MIUI/sound_recorder/call_rec/x.mp3", None),
    ("Recordings/x.m4a", None),
    ("2024-01/x.m4a", None),
])
def test_person_from_path(tmp_path: Path, relative: str, person: str | None) -> None:
    assert person_from_path(tmp_path / relative, tmp_path) == person


@pytest.mark.parametrize(("label", "relation"), [
    ("本人", "本人"), ("借款人", "本人"), ("me", "本人"), ("母亲", "母亲"), ("妈", "母亲"), ("同事王某", "同事"),
    ("王某（同事）", "同事"), ("张三(朋友)", "朋友"), ("表哥李四", "表哥"), ("李四", ""), (None, ""),
])
def test_relation_of(label: str | None, relation: str) -> None:
    assert relation_of(label) == relation


def _add_call(store, path: Path, number: str, start: datetime, received_by: str | None = None):  # noqa: ANN001, ANN202
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"fake recording " + str(path).encode())
    meta = CallMeta(number=number, start=start, direction="incoming", duration=60.0, received_by=received_by)
    meta.sources = {"start": "filename", "number": "filename", "direction": "filename"}
    return store.upsert_call_intake(path, sha256_file(path), meta=meta, size=path.stat().st_size)


def test_contacts_reached_table(tmp_path: Path) -> None:
    root = tmp_path / "INPUT"
    write(root / "本人" / "sms-20240115.xml", SMS_XML)
    write(root / "母亲" / "qq.txt", QQ_EXPORT)
    write(root / "同事王某" / "短信.csv", "号码,时间,类型,内容\n"
          f"{OTHER},2024-01-17 10:00,接收,你同事欠钱不还，请转告他\n"
          f"{OTHER},2024-01-17 10:05,发送,我不认识他\n")
    with open_store(tmp_path / "case") as store:
        own = _add_call(store, root / "本人" / "call1.m4a", COLLECTOR, datetime(2024, 1, 14, 23, 0))
        _add_call(store, root / "母亲" / "call2.m4a", COLLECTOR, datetime(2024, 1, 16, 12, 0))
        _add_call(store, root / "call3.m4a", OTHER, datetime(2024, 1, 13, 8, 30), received_by="母亲")  # calls.csv
        _add_call(store, root / "同事王某" / "call4.m4a", OTHER, datetime(2024, 1, 18, 9, 0))
        store.replace_flags(own.id, [{"category": "OFF_HOURS", "rule": "off_hours.window", "severity": 2}], level="call")
        [rejected] = store.replace_flags(own.id, [{"category": "INSULT", "rule": "insult.x", "segment_idx": None,
                                                   "start_char": 0, "end_char": 2}], level="segment")["added"]
        store.set_flag_status(rejected, "rejected")

        report = import_messages(store, discover_messages(root), load_engine(), root)
        assert not report.failed
        rows = contacts_reached(store, input_dir=root)

    by_person = {r.person: r for r in rows}
    assert [r.person for r in rows][0] == "本人" and set(by_person) == {"本人", "母亲", "同事王某"}
    me, mother, colleague = by_person["本人"], by_person["母亲"], by_person["同事王某"]

    # the collector's SMS and the flagged MMS; neither the reply nor the bank's salary notice counts
    assert (me.relation, me.calls, me.messages) == ("本人", 1, 2)
    assert me.numbers[0] == COLLECTOR and set(me.numbers) == {COLLECTOR, "10690000"}
    assert me.first == "2024-01-14 23:00:00" and me.last == "2024-01-15 23:36:40"  # epoch ms shown in Beijing time
    assert {"OFF_HOURS", "CONTACTS_BLAST", "INSULT", "HOME_WORK_VISIT"} <= set(me.categories)
    assert me.categories["INSULT"] == 1  # the SMS "老赖"; the rejected call flag is not counted

    assert (mother.relation, mother.calls, mother.messages) == ("母亲", 2, 2)
    assert set(mother.numbers) == {COLLECTOR, OTHER, "催收-张三"}  # a chat counterpart without a number: its name
    assert (mother.first, mother.last) == ("2024-01-13 08:30:00", "2024-01-16 23:40:00")
    assert "CONTACTS_BLAST" in mother.categories and mother.flagged_items >= 2

    assert (colleague.relation, colleague.calls, colleague.messages) == ("同事", 1, 1)
    assert colleague.numbers == [OTHER] and colleague.first == "2024-01-17 10:00:00"
    assert colleague.categories  # "欠钱不还，请转告他" to a colleague: third-party contact / disclosure

    table = to_markdown(rows)
    assert table.splitlines()[0].startswith("| 接收人 | 关系 |") and "| 同事王某 | 同事 | 1 | 1 |" in table
    assert "爆通讯录" in table and "CONTACTS_BLAST" not in table  # category names in Chinese, as in every table
    assert rows[0].to_dict()["is_borrower"] is True
