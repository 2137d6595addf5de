"""Call metadata: counterpart number, start time, direction and duration of one recording.

Sources, best first: the user's ``calls.csv`` ('user'), a BCR ``.json`` sidecar ('sidecar'),
the file name written by a built-in recorder or recorder app ('filename'; the shapes are in
shared/design/RECORDERS.md), the container's ``creation_time`` ('tag'; Android writes it when
the call ENDS, in UTC) and last the file mtime ('mtime', also the end of the call).
Naive datetimes are device-local wall time; an offset or an epoch gives a tz-aware one.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import InputError

DEFAULT_ZONE = "Asia/Shanghai"
NO_YEAR = "文件名没有年份，开始时间未知"


@dataclass
class CallMeta:
    number: str | None = None  # canonical: +86/0086/86 dropped from CN mobiles
    number_raw: str | None = None  # as written in the name / sidecar / csv
    contact_name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    direction: str | None = None  # incoming | outgoing | conference
    duration: float | None = None
    recorder: str | None = None  # which file-name template matched
    sources: dict[str, str] = field(default_factory=dict)  # field -> filename|tag|mtime|user|sidecar
    time_precision: str | None = None  # ms | s | minute
    participants: list[tuple[str | None, str | None]] = field(default_factory=list)  # (number, name)
    received_by: str | None = None
    user_note: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def start_source(self) -> str | None:
        return self.sources.get("start")

    def set(self, name: str, value: Any, source: str) -> None:
        setattr(self, name, value)
        self.sources[name] = source

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "participants"}
        out["participants"] = [list(p) for p in self.participants]
        for key in ("start", "end"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def local_zone(name: str = DEFAULT_ZONE) -> ZoneInfo | timezone:
    """The zone naive phone times are in; China (no DST) still works without tzdata."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC", "Asia/Hong_Kong", "Asia/Taipei"):
            return timezone(timedelta(hours=8))
        raise


# ---------------------------------------------------------------- numbers

def is_number_like(text: str) -> bool:
    """Pitfall 1: after dropping spaces, '-', brackets and a leading '+', all digits (>= 3)?"""
    core = re.sub(r"[\s\-()（）]", "", text).lstrip("+")
    return core.isdigit() and len(core) >= 3


def canonical_number(raw: str | None, *, miui: bool = False) -> str | None:
    """Digits (and a leading + or *) of a phone number; China's +86/0086/86 dropped."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    if miui:  # MIUI wrote '+'->'00', ','->'p' (pause), '*'->'s'
        text = re.split(r"[p,]", text)[0].replace("s", "*")
    text = re.sub(r"^_(?=\d)", "*", text)  # Samsung wrote *6900 as _6900
    text = re.sub(r"[^\d+*#]", "", text)
    if not re.search(r"\d", text):
        return None
    if m := re.fullmatch(r"(?:\+|00)?86(1[3-9]\d{9})", text):
        return m.group(1)
    if m := re.fullmatch(r"(?:\+|00)86([1-9]\d{8,10})", text):  # +86 landline: put the trunk 0 back
        return "0" + m.group(1)
    if m := re.fullmatch(r"00([1-9]\d{6,14})", text):
        return "+" + m.group(1)
    return text


# ---------------------------------------------------------------- file names

def _dt(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0,
        tz: timezone | None = None) -> datetime | None:
    """Plausible calendar time or None: year 2010..next year, valid month/day/hour."""
    if not 2010 <= y <= datetime.now().year + 1:
        return None
    try:
        return datetime(y, mo, d, h, mi, s, us, tzinfo=tz)
    except ValueError:
        return None


def _ts14(ts: str) -> datetime | None:  # yyyyMMddHHmmss
    return _dt(*(int(x) for x in (ts[:4], ts[4:6], ts[6:8], ts[8:10], ts[10:12], ts[12:14])))


def _ymd_hms(d: str, t: str) -> datetime | None:
    """Date of 6 or 8 digits (yy -> 20yy) and time of 6 digits, separators already removed."""
    y = int(d[:-4]) + (2000 if len(d) == 6 else 0)
    return _dt(y, int(d[-4:-2]), int(d[-2:]), int(t[:2]), int(t[2:4]), int(t[4:6]))


def _epoch(value: str) -> datetime | None:
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    when = datetime.fromtimestamp(seconds, UTC)
    return when if _dt(when.year, 1, 1) else None


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
    meta = CallMeta(start=_dt(2000 + int(ts[:2]), int(ts[2:4]), int(ts[4:6]), int(ts[6:8]), int(ts[8:10])),
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
    start = _dt(int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]),
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
        start = _dt(year, int(m["mon"]), int(m["day"]), h, minute)
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


# ---------------------------------------------------------------- tags, mtime, sidecar

_MP4_EPOCH_BUG = timedelta(seconds=2082844800)  # 1904 -> 1970: old Android wrote Unix seconds


def _creation_time(tags: dict | None, notes: list[str]) -> datetime | None:
    raw = next((v for k, v in (tags or {}).items() if k.lower() == "creation_time" and v), None)
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
    except ValueError:
        notes.append(f"无法解析容器时间 {raw!r}")
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when.year < 1990 and _dt((when + _MP4_EPOCH_BUG).year, 1, 1):
        notes.append("容器时间按旧版 Android 的 1904/1970 纪元错误修正")
        when += _MP4_EPOCH_BUG
    return when if _dt(when.year, 1, 1) else None


def _read_sidecar(path: Path, meta: CallMeta) -> None:
    """BCR's `<same name>.json` is authoritative for time, direction, number and names."""
    sidecar = path.with_suffix(".json")
    if sidecar == path or not sidecar.is_file():
        return
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        meta.notes.append(f"旁路文件 {sidecar.name} 无法读取: {err}")
        return
    if not isinstance(data, dict):
        return
    start = None
    if isinstance(data.get("timestamp"), str):
        try:
            start = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
        except ValueError:
            start = None
    if start is None and isinstance(data.get("timestamp_unix_ms"), int | float):
        start = datetime.fromtimestamp(data["timestamp_unix_ms"] / 1000, UTC)
    if start is not None:
        meta.set("start", start, "sidecar")
        meta.time_precision = "ms"
    direction = {"in": "incoming", "out": "outgoing", "conference": "conference"}.get(data.get("direction"))
    if direction:
        meta.set("direction", direction, "sidecar")
    calls = [c for c in data.get("calls") or [] if isinstance(c, dict)]
    if calls:
        meta.participants = [(canonical_number(c.get("phone_number")), c.get("contact_name")) for c in calls]
        first = calls[0]
        if first.get("phone_number"):
            meta.number_raw = first["phone_number"]
            meta.set("number", canonical_number(first["phone_number"]), "sidecar")
        name = first.get("contact_name") or first.get("caller_name") or data.get("call_log_name")
        if name:
            meta.set("contact_name", name, "sidecar")
    recording = (data.get("output") or {}).get("recording") or {}
    if meta.duration is None and isinstance(recording.get("duration_secs_total"), int | float):
        meta.set("duration", float(recording["duration_secs_total"]), "sidecar")


def call_metadata(path: Path, tags: dict | None = None, duration: float | None = None,
                  mtime: float | None = None, *, zone: str = DEFAULT_ZONE) -> CallMeta:
    """Everything known about one recording's call, each field with its source.

    ``tags`` are the container's format tags (ffprobe/PyAV), ``duration`` the probed length in
    seconds, ``mtime`` the original file's modification time (read from disk when omitted).
    """
    path = Path(path)
    if mtime is None:
        try:
            mtime = path.stat().st_mtime
        except OSError:
            mtime = None
    mtime_local = datetime.fromtimestamp(mtime, local_zone(zone)).replace(tzinfo=None) if mtime else None
    meta = parse_filename(path, year_hint=mtime_local)
    if meta is None:
        meta = CallMeta(notes=["文件名不是已知录音软件的格式"])
    if duration is not None:
        meta.set("duration", float(duration), "tag")
    _read_sidecar(path, meta)
    if meta.start is None:
        for end, source in ((_creation_time(tags, meta.notes), "tag"),
                            (datetime.fromtimestamp(mtime, UTC) if mtime else None, "mtime")):
            if end is None:
                continue
            meta.set("end", end, source)
            meta.time_precision = "s"
            label = "容器 creation_time" if source == "tag" else "文件修改时间"
            if meta.duration is not None:
                meta.set("start", end - timedelta(seconds=meta.duration), source)
                meta.notes.append(f"开始时间 = {label}（通话结束时刻）减去时长")
            else:
                meta.notes.append(f"只知道通话结束时间（{label}），时长未知")
            break
    elif meta.end is None and meta.duration is not None:
        meta.set("end", meta.start + timedelta(seconds=meta.duration), meta.sources["start"])
    return meta


# ---------------------------------------------------------------- calls.csv (user overrides)

_CSV_COLUMNS = {
    "file": ("file", "文件", "文件名"), "number": ("number", "号码", "对方号码"),
    "start": ("start", "开始时间", "时间"), "direction": ("direction", "方向"),
    "duration": ("duration", "时长"), "contact_name": ("contact_name", "联系人", "对方"),
    "received_by": ("received_by", "接听人"), "note": ("note", "备注"),
}
_DIRECTION_WORDS = {
    "incoming": "incoming", "in": "incoming", "来电": "incoming", "呼入": "incoming", "打入": "incoming",
    "outgoing": "outgoing", "out": "outgoing", "去电": "outgoing", "呼出": "outgoing", "打出": "outgoing",
    "conference": "conference", "会议": "conference",
}


def _csv_start(text: str) -> datetime:
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if m:
        return datetime(*(int(x) for x in m.groups(default="0")))
    return datetime.fromisoformat(text)


def _csv_duration(text: str) -> float:
    m = re.fullmatch(r"(?:(\d+)\s*(?:小时|时))?\s*(?:(\d+)\s*分钟?)?\s*(?:(\d+(?:\.\d+)?)\s*秒)?", text)
    if m and any(m.groups()):
        h, mi, s = (float(x or 0) for x in m.groups())
        return h * 3600 + mi * 60 + s
    if not re.fullmatch(r"\d+(?:\.\d+)?(?::\d{1,2}(?:\.\d+)?){0,2}", text):  # s, m:ss or h:mm:ss
        raise ValueError(text)
    return sum(float(p) * 60 ** i for i, p in enumerate(reversed(text.split(":"))))


def _csv_value(key: str, text: str) -> Any:
    if key == "start":
        return _csv_start(text)
    if key == "duration":
        return _csv_duration(text)
    if key == "direction":
        return _DIRECTION_WORDS[text.lower()]
    if key == "number" and canonical_number(text) is None:
        raise ValueError(text)
    return text


def _read_csv_text(csv_path: Path) -> str:
    raw = csv_path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves GBK
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(csv_path, "无法识别文件编码，请另存为 UTF-8", "unknown text encoding, save as UTF-8")


def load_overrides(csv_path: Path) -> dict[str, dict[str, Any]]:
    """Rows of the user's calls.csv keyed by file (name or relative path, '/'-separated).

    Only filled cells appear in a row's dict; keys: number, start, direction, duration,
    contact_name, received_by, note. A malformed row raises InputError naming its line.
    """
    csv_path = Path(csv_path)
    try:
        text = _read_csv_text(csv_path)
    except OSError as err:
        raise InputError(csv_path, "无法读取", f"cannot read: {err.strerror}") from err
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    aliases = {alias.lower(): key for key, names in _CSV_COLUMNS.items() for alias in names}
    keys = [aliases.get(h.strip().lower()) for h in header or []]
    unknown = [h for h, k in zip(header or [], keys, strict=True) if k is None and h.strip()]
    if "file" not in keys or unknown:
        raise InputError(csv_path, f"第 1 行表头需要 file 列，未知列: {unknown}",
                         f"line 1: header needs a 'file' column; unknown columns: {unknown}")
    rows: dict[str, dict[str, Any]] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        row = {}
        for key, cell in zip(keys, cells, strict=False):
            if key and cell.strip():
                try:
                    row[key] = _csv_value(key, cell.strip())
                except (ValueError, KeyError):
                    raise InputError(csv_path, f"第 {line} 行 {key} 列无法识别: {cell.strip()!r}",
                                     f"line {line}: bad {key} value {cell.strip()!r}") from None
        name = re.sub(r"^(?:\./)+", "", str(row.pop("file", "")).replace("\\", "/")).strip("/")
        if not name:
            raise InputError(csv_path, f"第 {line} 行缺少 file", f"line {line}: empty 'file' cell")
        if name in rows:
            raise InputError(csv_path, f"第 {line} 行重复的文件 {name}", f"line {line}: duplicate file {name}")
        rows[name] = row
    return rows


def apply_overrides(meta: CallMeta, path: Path, overrides: dict[str, dict[str, Any]],
                    root: Path | None = None) -> CallMeta:
    """Apply the calls.csv row for ``path`` (matched by path relative to ``root``, else by name)."""
    path = Path(path)
    relative = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else ""
    row = overrides.get(relative) or overrides.get(path.name)
    if not row:
        return meta
    for name, value in row.items():
        if name == "number":
            meta.number_raw = value
            meta.set("number", canonical_number(value), "user")
        elif name == "note":
            meta.set("user_note", value, "user")
        else:
            meta.set(name, value, "user")
    if "start" in row:
        meta.time_precision = "s"
        if "end" not in row and meta.duration is not None:
            meta.set("end", row["start"] + timedelta(seconds=meta.duration), "user")
    return meta
