"""Call metadata from the file name a built-in recorder or recorder app wrote.

The shapes are in shared/design/RECORDERS.md: one `RECORDERS` entry per recorder, each with the
folder it usually writes to and the name patterns it uses; `parse_filename` tries them on the
name as written and with copy suffixes / full-width forms undone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pipeline.callmeta import CallMeta, canonical_number, is_number_like, plausible_time

NO_YEAR = "文件名没有年份，开始时间未知"


def _ts14(ts: str) -> datetime | None:  # yyyyMMddHHmmss
    return plausible_time(*(int(x) for x in (ts[:4], ts[4:6], ts[6:8], ts[8:10], ts[10:12], ts[12:14])))


def _ymd_hms(d: str, t: str) -> datetime | None:
    """Date of 6 or 8 digits (yy -> 20yy) and time of 6 digits, separators already removed."""
    y = int(d[:-4]) + (2000 if len(d) == 6 else 0)
    return plausible_time(y, int(d[-4:-2]), int(d[-2:]), int(t[:2]), int(t[2:4]), int(t[4:6]))


def _epoch(value: str) -> datetime | None:
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    when = datetime.fromtimestamp(seconds, UTC)
    return when if plausible_time(when.year, 1, 1) else None


def _fill_who(meta: CallMeta, who: str | None) -> None:
    """A slot that holds either a number or a contact name (Samsung, ColorOS, vivo, Cube, axet)."""
    who = (who or "").strip()
    if not who or who.lower() in ("unknown", "private", "未知", "未知号码", "私人号码"):
        meta.notes.append("文件名中没有对方号码")
    elif is_number_like(who) or re.fullmatch(r"_\d{3,}", who):
        meta.number_raw, meta.number = who, canonical_number(who)
    else:
        meta.contact_name = who


def _fill_pair(meta: CallMeta, name: str | None, number: str | None, miui: bool = False) -> None:
    """Name and number both given (MIUI, Huawei, Cube a); a label may sit in either slot."""
    name, number = (name or "").strip() or None, (number or "").strip() or None
    if number and (is_number_like(number) or (miui and re.fullmatch(r"[+s*]?\d[\dps,*]{2,}", number))):
        meta.number_raw, meta.number = number, canonical_number(number, miui=miui)
        if name and not is_number_like(name) and canonical_number(name, miui=miui) != meta.number:
            meta.contact_name = name
    elif number and name and is_number_like(name):  # MIUI: 112(Экстренный номер)
        meta.number_raw, meta.number, meta.contact_name = name, canonical_number(name), number
    else:
        _fill_who(meta, name or number)


_PARTY = re.compile(
    r"(?P<name>[^()]*?)\((?P<number>[^()]*)\)(?:_|$)"  # name(number)
    r"|(?P<bare>\+?\d[\d ]*)(?:_|$)"  # number alone (no contact name)
    r"|(?P<cut>[^()]*?(?:\([^()]*)?)$"  # cut by MIUI's 50-character cap
)


def _split_parties(parties: str, truncated: bool) -> list[tuple[str | None, str | None]] | None:
    found, pos = [], 0
    while pos < len(parties):
        m = _PARTY.match(parties, pos)
        if not m or m.end() == pos or (m.group("cut") is not None and not truncated):
            return None
        if m.group("cut") is not None:  # a cut number is useless: keep the name only
            found.append((m.group("cut").partition("(")[0], None))
        else:
            found.append((m.group("name"), m.group("number") if m.group("bare") is None else m.group("bare")))
        pos = m.end()
    return found or None


def _miui(m: re.Match, ctx: _Ctx) -> CallMeta | None:
    # MIUI caps the whole file name at 50 UTF-16 units by cutting the caller part
    truncated = len((m.string + ctx.ext).encode("utf-16-le")) // 2 >= 50
    parties = _split_parties(m["parties"], truncated)
    known_prefix = m["prefix"] in ("通话录音", "通話錄音", "Вызов", "Call recording")
    if not parties or not (ctx.folder_hint == "miui" or known_prefix or "(" in m["parties"]):
        return None
    meta = CallMeta(start=_ts14(m["ts"]), time_precision="s")
    for name, number in parties:
        one = CallMeta()
        _fill_pair(one, name, number, miui=True)
        meta.participants.append((one.number, one.contact_name))
        if meta.number_raw is None and meta.contact_name is None:
            meta.number, meta.number_raw, meta.contact_name = one.number, one.number_raw, one.contact_name
    if len(parties) > 1:
        meta.set("direction", "conference", "filename")
    if truncated:
        meta.notes.append("MIUI 文件名上限 50 字符，联系人名可能被截断")
    return meta


def _miui_new(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = CallMeta(start=_ts14(m["ts"]), time_precision="s")
    _fill_pair(meta, m["name"], m["number"], miui=True)
    return meta


def _huawei(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = CallMeta(start=_ts14(m["ts"]), time_precision="s")
    _fill_pair(meta, m["name"], m["number"])
    return meta


def _coloros(m: re.Match, ctx: _Ctx) -> CallMeta:
    ts = m["ts"]
    meta = CallMeta(start=plausible_time(2000 + int(ts[:2]), int(ts[2:4]), int(ts[4:6]), int(ts[6:8]), int(ts[8:10])),
                    time_precision="minute")
    _fill_who(meta, m["who"])
    return meta


def _who_date_time(m: re.Match, ctx: _Ctx) -> CallMeta:
    """vivo, Samsung, Cube (b): a who-slot plus date and time digits."""
    digits = {k: re.sub(r"\D", "", m[k]) for k in ("d", "t")}
    meta = CallMeta(start=_ymd_hms(digits["d"], digits["t"][:6]), time_precision="s")
    _fill_who(meta, m.groupdict().get("who"))
    return meta


def _lineage(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = _who_date_time(m, ctx)
    if meta.start:
        meta.start = meta.start.replace(microsecond=int(m["ms"]) * 1000)
    meta.time_precision = "ms"
    return meta


def _graphene(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = CallMeta(start=_ymd_hms(m["d"], m["t"]), time_precision="s")
    _fill_who(meta, m["who"])
    return meta


def _bcr(m: re.Match, ctx: _Ctx) -> CallMeta | None:
    tz, frac, d, t = m["tz"], m["frac"] or "", m["d"], m["t"]
    offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]), seconds=int(tz[5:7] or 0))
    if offset > timedelta(hours=14) or int(tz[3:5]) > 59:
        return None
    start = plausible_time(int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]),
                int((frac + "000000")[:6]), tz=timezone(offset if tz[0] == "+" else -offset))
    meta = CallMeta(start=start, time_precision="ms" if frac else "s")
    if m["dir"]:
        meta.set("direction", {"in": "incoming", "out": "outgoing"}.get(m["dir"], "conference"), "filename")
    numbers, names = m["number"] or "", m["name"] or ""
    if numbers and not is_number_like(numbers.split(",")[0]):  # private call: a name in the number slot
        numbers, names = "", "_".join(x for x in (numbers, names) if x)
    name_list = names.split(",")
    for i, number in enumerate(numbers.split(",") if numbers else []):
        meta.participants.append((canonical_number(number), name_list[i] or None if i < len(name_list) else None))
    first = numbers.split(",")[0]
    meta.number_raw, meta.number, meta.contact_name = first or None, canonical_number(first), name_list[0] or None
    if not first:
        meta.notes.append("文件名中没有对方号码")
    return meta


def _cube_a(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = _who_date_time(m, ctx)
    _fill_pair(meta, m["name"], m["number"])
    if m["dir"]:
        meta.set("direction", "outgoing" if m["dir"] == "↗" else "incoming", "filename")
    return meta


def _cube_b(m: re.Match, ctx: _Ctx) -> CallMeta | None:
    known = ("phone", "whatsapp", "telegram", "viber", "skype", "signal", "mic", "messenger", "line",
             "wechat", "imo", "duo", "meet", "teams", "zoom", "discord", "kakaotalk", "botim", "voip")
    return _who_date_time(m, ctx) if ctx.folder_hint == "cube" or m["src"] in known else None


def _acrphone(m: re.Match, ctx: _Ctx) -> CallMeta:
    meta = CallMeta(start=_epoch(m["epoch"]), time_precision="ms" if len(m["epoch"]) == 13 else "s")
    _fill_who(meta, m["number"])
    if m["flag"] in "01":
        meta.set("direction", "incoming" if m["flag"] == "0" else "outgoing", "filename")
        meta.notes.append("ACR Phone 方向标志 0=来电 的含义未经核实")
    return meta


def _axet(m: re.Match, ctx: _Ctx) -> CallMeta:
    if m.groupdict().get("epoch"):
        meta = CallMeta(start=_epoch(m["epoch"]), time_precision="s")
    else:
        meta = _who_date_time(m, ctx)
    if m.groupdict().get("dir"):
        meta.set("direction", "incoming" if m["dir"] == "↓" else "outgoing", "filename")
    _fill_who(meta, m["who"])
    return meta


def _month_day(m: re.Match, ctx: _Ctx) -> CallMeta:
    """Lenovo `05月13日_15点26分` and voice-memo `2月18日 下午1点51分`: no year, maybe 12-hour."""
    h, minute = int(m["h"]), int(m.groupdict().get("mi") or 0)
    half = m.groupdict().get("ampm") or ""
    next_day = half == "晚上" and h == 12
    if half in ("下午", "晚上", "傍晚") and h < 12 or half == "中午" and h < 4:
        h += 12
    elif half in ("凌晨", "早上", "上午", "晚上") and h == 12:
        h = 0
    meta = CallMeta(time_precision="minute")
    years = [int(m["y"])] if m.groupdict().get("y") else []
    if not years and ctx.year_hint:
        years = [ctx.year_hint.year, ctx.year_hint.year - 1]
        meta.notes.append("文件名没有年份，年份取自文件修改时间")
    for year in years:
        start = plausible_time(year, int(m["mon"]), int(m["day"]), h, minute)
        if start and (len(years) == 1 or start <= ctx.year_hint + timedelta(days=1)):
            meta.start = start + timedelta(days=1) if next_day else start
            break
    if not years:
        meta.notes.append(NO_YEAR)
    if "number" in m.groupdict():
        _fill_who(meta, m["number"])
    else:
        meta.contact_name = m["label"].strip(" _-") or None
    return meta


@dataclass
class _Ctx:
    ext: str  # '.mp3', or '' when the name has no extension
    folder_hint: str | None
    year_hint: datetime | None


@dataclass
class _Recorder:
    name: str
    folder: re.Pattern  # matched against the lower-cased parent path
    patterns: list[tuple[re.Pattern, Callable[[re.Match, _Ctx], CallMeta | None]]]


def _r(name: str, folder: str, *patterns: tuple[str, Callable]) -> _Recorder:
    """A recorder entry; ``folder`` '(?!)' = no telling folder."""
    return _Recorder(name, re.compile(folder), [(re.compile(p), f) for p, f in patterns])


_DT_DASH = r"(?P<d>\d{4}-\d{2}-\d{2}) (?P<t>\d{2}-\d{2}-\d{2})"
# Order matters where shapes overlap: ACR Phone before ColorOS (`number-0-epoch` also ends in
# 10 digits), MIUI old before MIUI new and Huawei. A matching folder moves its recorder first.
RECORDERS: list[_Recorder] = [
    _r("bcr", r"com\.chiller3\.bcr|/bcr(/|$)",
       (r"(?P<d>\d{8})_(?P<t>\d{6})(?:\.(?P<frac>\d{1,9}))?(?P<tz>[+-]\d{4}(?:\d{2})?)(?:_(?P<dir>in|out|conference))?"
        r"(?:_sim(?P<sim>\d+))?(?:_(?P<number>[^_]*))?(?:_(?P<name>.+))?", _bcr)),
    _r("miui_old", r"call_rec$", (r"(?P<prefix>[^@]+)@(?P<parties>.+)_(?P<ts>\d{14})", _miui)),
    _r("miui_new", r"call_rec$", (r"(?P<name>.*)\((?P<number>[^()]*)\)_(?P<ts>\d{14})", _miui_new)),
    _r("huawei", r"(^|/)(callrecord|record|phonerecord)$",
       (r"(?:(?P<name>.+)@)?(?P<number>\+?[\d ]+)_(?P<ts>\d{14})", _huawei)),
    _r("lenovo", r"phone_recorder(/[^/]+)?$",
       (r"(?P<number>\+?\d+)_通话_(?P<mon>\d{2})月(?P<day>\d{2})日_(?P<h>\d{2})点(?P<mi>\d{2})分", _month_day)),
    _r("lineage", r"(?!)", (r"(?P<who>\+?\d+|unknown)_(?P<d>\d{6})_(?P<t>\d{6})(?P<ms>\d{3})", _lineage)),
    _r("graphene", r"(?!)", (r"CallRecord_(?P<d>\d{8})-(?P<t>\d{6})_(?P<who>\+?\d*)", _graphene)),
    _r("acrphone", r"acrphone",
       (r"(?P<number>\+?\d[\d-]*)-(?P<flag>\d)-(?P<epoch>\d{13}|\d{10})", _acrphone)),
    _r("coloros", r"call recordings$", (r"(?P<who>.+)-(?P<ts>\d{10})", _coloros)),
    _r("vivo", r"record/call$", (rf"(?P<who>.+) {_DT_DASH}", _who_date_time)),
    _r("samsung", r"(^|/)(recordings/)?call$",
       (r"(?:Call recording|通话录音|通話錄音|통화 녹음)\s+(?P<who>.+)_(?P<d>\d{6})_(?P<t>\d{6})", _who_date_time),
       (r"(?:\S.*?)\s+(?P<who>\+?[\d -]{3,}|_\d+)_(?P<d>\d{6})_(?P<t>\d{6})", _who_date_time)),
    _r("cube", r"cubecallrecorder",
       (rf"{_DT_DASH} \((?P<src>[a-z]+)\) (?P<name>.*?)(?: \((?P<number>[^()]*)\))?\s*(?P<dir>[↗↙])?", _cube_a),
       (r"(?P<src>[a-z]+)_(?P<d>\d{8})-(?P<t>\d{6})(?:_(?P<who>.+))?", _cube_b)),
    _r("axet", r"call recorder$",
       (r"(?P<d>\d{4}-\d{2}-\d{2}) (?P<t>\d{2}\.\d{2}\.\d{2})(?: (?P<dir>[↓↑]))?(?: (?P<who>.+))?", _axet),
       (r"(?P<d>\d{8})T(?P<t>\d{6})(?: (?P<dir>[↓↑]))?(?: (?P<who>.+))?", _axet),
       (r"(?P<epoch>\d{10}) (?P<who>\+?[\d ]{3,})", _axet)),
    _r("zh_memo", r"(?!)",
       (r"(?P<label>.*?)\s*(?:(?P<y>\d{4})年)?(?P<mon>\d{1,2})月(?P<day>\d{1,2})[日号]\s*"
        r"(?P<ampm>凌晨|早上|上午|中午|下午|傍晚|晚上)?\s*(?P<h>\d{1,2})[点时:：](?:(?P<mi>\d{1,2})分?)?", _month_day)),
]

_COPY_SUFFIXES = [
    r"\s*[(（]\d{1,3}[)）]",  # ' (1)', '（2）'
    r"(?:\s*-\s*|\s+|_)(?:副本|复制|拷贝|[Cc]opy)(?:\s*[(（]?\d{1,3}[)）]?)?",  # ' - 副本', ' 副本 2'
    r"[-_]\d",  # '-1', '_1'
]


def _variants(stem: str) -> list[tuple[str, bool]]:
    """The name as written, then with copy suffixes and full-width forms undone (pitfalls 5, 8)."""
    out, seen = [], set()
    for base in (stem, unicodedata.normalize("NFKC", stem)):
        todo = [(base, False)]
        while todo:
            name, changed = todo.pop(0)
            if name in seen:
                continue
            seen.add(name)
            out.append((name, changed or name != stem))
            for rx in _COPY_SUFFIXES:
                if (cut := re.sub(rx + "$", "", name)) != name:
                    todo.append((cut.strip(), True))
            if (cut := re.sub(r"^(?:Copy of |副本\s*)", "", name)) != name:
                todo.append((cut, True))
    return out


def _stem(filename: str) -> str:
    base, dot, ext = filename.rpartition(".")
    return base if dot and base and re.fullmatch(r"[A-Za-z0-9]{1,5}", ext) and not ext.isdigit() else filename


def parse_filename(path: Path, *, year_hint: datetime | None = None) -> CallMeta | None:
    """Call metadata from a recorder's file name (and number folders), or None if unknown.

    ``year_hint`` (local time of the file's mtime) supplies the year when the name has none.
    """
    path = Path(path)
    folder = path.parent.as_posix().lower().rstrip("/")
    hinted = [r for r in RECORDERS if r.folder.search(folder)]
    order = hinted + [r for r in RECORDERS if r not in hinted]
    filename = unicodedata.normalize("NFC", path.name)
    stem = _stem(filename)
    ctx = _Ctx(filename[len(stem):], hinted[0].name.split("_")[0] if hinted else None, year_hint)
    stem = stem.strip()
    for candidate, is_copy in _variants(stem):
        for recorder in order:
            for rx, build in recorder.patterns:
                m = rx.fullmatch(candidate)
                meta = build(m, ctx) if m else None
                if meta is None or (meta.start is None and NO_YEAR not in meta.notes):
                    continue
                meta.recorder = recorder.name
                for key in ("number", "contact_name", "start"):
                    if getattr(meta, key):
                        meta.sources.setdefault(key, "filename")
                _number_from_folder(meta, path)
                if not meta.participants and (meta.number or meta.contact_name):
                    meta.participants = [(meta.number, meta.contact_name)]
                if is_copy:
                    meta.notes.append("文件名带复制后缀，已忽略")
                return meta
    return None


def _number_from_folder(meta: CallMeta, path: Path) -> None:
    """Lenovo `Phone_recorder/<number>/` and ACR Phone `…/DD/<+number>/` keep the number in the folder."""
    parent, grand = path.parent.name, path.parent.parent.name.lower()
    if meta.number or not is_number_like(parent) or not (grand == "phone_recorder" or grand.isdigit()):
        return
    meta.number_raw, meta.number = parent, canonical_number(parent)
    meta.sources["number"] = "filename"
    meta.notes.append("号码取自所在文件夹名")
