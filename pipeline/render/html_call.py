"""The annotated transcript of one call: a self-contained HTML page (works from file://, no network).

Flags are highlighted in their category colour over the machine text (their character offsets
refer to it); a reviewer's correction is shown under it, marked as a human edit. Every time and
every flag plays the original recording from that moment through one ``<audio>`` element whose
``src`` is the relative path to the original file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from pipeline.audio_complete import Damage
from pipeline.calls import local_zone
from pipeline.render.categories import DIRECTION_LABELS, SOURCE_LABELS, tint
from pipeline.render.flag_view import ROLE_NAMES, FlagView, flag_runs, flag_views
from pipeline.render.writers import MACHINE_NOTICE, format_timestamp
from pipeline.transcript import Segment, Transcript

LOW_CONFIDENCE = 0.5  # Whisper word probability below which a word is marked 请核听
TEMPLATES = Path(__file__).with_name("templates")


def asset(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def clock(seconds: float | None) -> str:
    """mm:ss (h:mm:ss past an hour) for people; the full timestamp goes in the title."""
    if seconds is None:
        return "--:--"
    text = format_timestamp(seconds, always_hours=False)
    return text.rsplit(".", 1)[0]


def duration_zh(seconds: float | None) -> str:
    if not seconds:
        return "未知"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}分{secs:02d}秒" if minutes else f"{secs}秒"


def speaker_name(speaker: str | None, role: str | None) -> str:
    if role and role != "unknown":
        name = ROLE_NAMES.get(role, role)
        return f"{name}（{speaker}）" if speaker else name
    return f"说话人 {speaker}（身份未确认）" if speaker else "说话人未区分"


def _attr_time(seconds: float | None) -> str:
    return f"{max(0.0, seconds or 0.0):.3f}"


# ------------------------------------------------------------------ flags


def flag_chip(view: FlagView) -> str:
    return (f'<span class="chip" style="--c:{view.colour};--bg:{tint(view.colour)}">'
            f'{escape(view.label)}</span>')


def flag_detail(view: FlagView, number: int) -> str:
    """The explanation of one flag in plain Chinese (the tooltip's content and the row of the flag
    list); rule ids, patterns and scores only behind the 技术细节 toggle."""
    rows = [
        ("类别", flag_chip(view)),
        ("标记的词", f"“{escape(view.match)}”" if view.match else ""),
        ("时间", f"{clock(view.start_s)}–{clock(view.end_s)}" if view.start_s is not None else ""),
        ("说话人", escape(view.role_label + (f"（{view.speaker}）" if view.speaker else ""))),
        *rule_rows(view),
        status_row(view),
    ]
    return (f'<table class="detail" data-flag="{number}">{detail_rows_html(rows)}</table>'
            f"{technical_details(view)}")


def rule_rows(view: FlagView) -> list[tuple[str, str]]:
    """The plain rows that explain a flag: legal basis and what the words are and were checked for."""
    return [
        ("法律依据", "<br>".join(escape(b) for b in view.legal_basis_labels)),
        ("为什么标记", "<br>".join(escape(line) for line in view.explanation)),
    ]


def technical_details(view: FlagView) -> str:
    """Rule ids, category code, score, severity, patterns: a closed 技术细节 toggle."""
    rows = [
        ("类别代码", escape(view.category)),
        ("规则", escape("、".join(view.rules))),
        ("分数", f"{view.score:.2f}" if isinstance(view.score, int | float) else ""),
        ("严重程度", f"{view.severity} / 3" if view.severity else ""),
        ("法律依据代码", escape("、".join(view.legal_basis))),
        ("说明", "<br>".join(escape(line) for line in view.technical)),
    ]
    return f'<details class="tech"><summary>技术细节</summary><table class="detail">{detail_rows_html(rows)}</table></details>'



def status_row(view: FlagView) -> tuple[str, str]:
    return ("复核状态", escape(view.status_label) + (f"；备注：{escape(view.note)}" if view.note else ""))


def detail_rows_html(rows: list[tuple[str, str]]) -> str:
    """Table rows of a flag's detail; empty values are left out."""
    return "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v)


def _segment_flags(views: list[FlagView], segment: Segment) -> list[tuple[int, FlagView]]:
    n = len(segment.text)
    out = []
    for number, view in enumerate(views, start=1):
        if view.level != "segment" or view.segment_index != segment.index:
            continue
        if view.start_char is None or view.end_char is None:
            continue
        if 0 <= view.start_char < view.end_char <= n:
            out.append((number, view))
    return out


def _low_words(segment: Segment, threshold: float) -> dict[int, float]:
    """char index -> start time of the low-confidence word covering it."""
    low: dict[int, float] = {}
    for word in segment.words:
        if word.probability < threshold and word.text.strip():
            for i in range(word.offset, min(len(segment.text), word.offset + len(word.text))):
                low[i] = word.start
    return low


def highlight_text(segment: Segment, flagged: list[tuple[int, FlagView]], threshold: float = LOW_CONFIDENCE) -> str:
    """The segment's text, escaped, with ``<mark>`` per flagged run and ``<span class=low>`` per unsure word."""
    text = segment.text
    low = _low_words(segment, threshold)
    views = dict(flagged)
    parts: list[str] = []
    for i, j, flags_here, main in flag_runs(len(text), flagged):
        inner = _low_runs(text, i, j, low)
        if main is not None:
            starts = [n for n in flags_here if views[n].start_char == i]
            anchor = f' id="flag-{starts[0]}"' if starts else ""
            classes = "flag" + (" accepted" if main.status == "accepted" else "")
            parts.append(
                f'<mark class="{classes}"{anchor} tabindex="0" data-flags="{" ".join(map(str, flags_here))}"'
                f' data-t="{_attr_time(main.start_s)}" style="--c:{main.colour};--bg:{tint(main.colour)}">'
                f"{inner}</mark>")
        else:
            parts.append(inner)
    return "".join(parts)


def _low_runs(text: str, start: int, end: int, low: dict[int, float]) -> str:
    out: list[str] = []
    i = start
    while i < end:
        t = low.get(i)
        j = i
        while j < end and low.get(j) == t:
            j += 1
        chunk = escape(text[i:j])
        if t is None:
            out.append(chunk)
        else:
            out.append(f'<span class="low" data-t="{_attr_time(t)}" title="识别把握不大，请核听">{chunk}</span>')
        i = j
    return "".join(out)


# ------------------------------------------------------------------ page parts


def _header(transcript: Transcript, meta: Mapping[str, Any], audio_href: str) -> str:
    src = transcript.source
    number = meta.get("number") or meta.get("number_raw") or "号码未知"
    who = f"{number}（{meta['contact_name']}）" if meta.get("contact_name") else number
    start = meta.get("start_time") or meta.get("start")
    start_text = str(start).replace("T", " ")[:19] if start else "时间未知"
    source = meta.get("start_source") or (meta.get("sources") or {}).get("start")
    if start and source:
        start_text += f"（来自{SOURCE_LABELS.get(source, source)}）"
    direction = DIRECTION_LABELS.get(meta.get("direction") or "", "未知")
    duration = meta.get("duration") or src.duration
    file_name = Path(meta.get("source_path") or src.path).name
    sha = meta.get("sha256") or src.sha256
    rows = [("号码", who), ("开始时间", start_text), ("方向", direction), ("时长", duration_zh(duration)),
            ("原始录音", file_name), ("SHA-256", sha)]
    damage = Damage.from_dict(src.damage)
    if damage:  # cut short or damaged: the transcript covers only what decoded
        rows.append(("录音状态", damage.summary))
    items = "".join(f"<div><dt>{k}</dt><dd>{escape(str(v))}</dd></div>" for k, v in rows)
    damage_note = (f'<p class="notice damage" role="note">⚠ {escape(damage.summary)}；转写只覆盖已解码的部分。</p>'
                   if damage else "")
    return (f'<h1>通话转写 · {escape(who)} · {escape(start_text.split("（")[0])}</h1>'
            f'<dl class="meta">{items}</dl>{damage_note}'
            f'<p class="notice" role="note">⚠ {MACHINE_NOTICE}</p>'
            f'<div class="player"><audio id="player" controls preload="metadata" src="{escape(audio_href)}"></audio>'
            f'<span class="hint">点击任一时间或标记，从该处播放原始录音</span>'
            f'<p id="audio-error" class="audio-error" hidden>此浏览器无法播放该录音格式。请用系统播放器打开原件 '
            f'<a href="{escape(audio_href)}">{escape(file_name)}</a>，按每行左侧的时间收听。</p></div>')


def _call_flags(views: list[FlagView]) -> str:
    calls = [(n, v) for n, v in enumerate(views, start=1) if v.level == "call"]
    if not calls:
        return ""
    items = "".join(
        f'<li><mark class="flag call" id="flag-{n}" tabindex="0" data-flags="{n}" '
        f'style="--c:{v.colour};--bg:{tint(v.colour)}">{escape(v.label)}</mark> '
        f'{escape(v.explanation[0] if v.explanation else v.label)}</li>' for n, v in calls)
    return f'<section class="call-flags"><h2>整通电话的标记</h2><ul>{items}</ul></section>'


def _legend(views: list[FlagView]) -> str:
    counts: dict[str, tuple[FlagView, int]] = {}
    for v in views:
        counts[v.category] = (counts.get(v.category, (v, 0))[0], counts.get(v.category, (v, 0))[1] + 1)
    if not counts:
        return '<p class="legend none">本通电话没有自动标记。</p>'
    items = "".join(f"<li>{flag_chip(v)} × {n}</li>" for v, n in counts.values())
    return (f'<div class="legend"><span>图例：</span><ul>{items}</ul>'
            f'<span class="legend-note"><span class="low sample">请核听</span> = 识别把握不大的字词</span></div>')


def _turns(transcript: Transcript, views: list[FlagView], corrections: Mapping[int, Mapping[str, Any]]) -> str:
    blocks: list[str] = []
    current: list[str] = []
    last_speaker: object = object()
    for seg in transcript.segments:
        key = (seg.speaker, seg.role)
        if key != last_speaker and current:
            blocks.append("".join(current) + "</div></section>")
            current = []
        if key != last_speaker:
            role = seg.role or "unknown"
            current.append(f'<section class="turn role-{escape(role)}"><h3 class="who">'
                           f'{escape(speaker_name(seg.speaker, seg.role))}</h3><div class="lines">')
            last_speaker = key
        current.append(_segment_line(seg, views, corrections.get(seg.index)))
    if current:
        blocks.append("".join(current) + "</div></section>")
    return "".join(blocks) or '<p class="empty">没有识别出语音。</p>'


def _segment_line(seg: Segment, views: list[FlagView], correction: Mapping[str, Any] | None) -> str:
    flagged = _segment_flags(views, seg)
    low = any(w.probability < LOW_CONFIDENCE and w.text.strip() for w in seg.words)
    check = '<span class="check" title="本句有识别把握不大的字词，请对照录音核听">请核听</span>' if low else ""
    fix = ""
    if correction and correction.get("text") is not None:
        at = local_stamp(correction.get("at"))
        fix = (f'<p class="correction"><span class="tag">人工校对</span>{escape(str(correction["text"]))}'
               f'{f" <small>（{escape(at)} 校对）</small>" if at else ""}</p>')
    return (f'<div class="seg" id="seg-{seg.index}" data-start="{seg.start:.3f}" data-end="{seg.end:.3f}">'
            f'<button class="time" type="button" data-t="{_attr_time(seg.start)}" '
            f'title="{format_timestamp(seg.start)} – {format_timestamp(seg.end)}，点击播放">{clock(seg.start)}</button>'
            f'<div class="body"><p class="text">{highlight_text(seg, flagged)}{check}</p>{fix}</div></div>')


def _flag_list(views: list[FlagView], links: Mapping[int, str] | None = None) -> str:
    """Every flag with its plain explanation; in a pack, headed by its evidence item's number
    (flags of one sentence share it) with its excerpt link (``links``: flag id -> href)."""
    if not views:
        return ""
    rows = []
    seen: set[int] = set()
    for n, v in enumerate(views, start=1):
        when = (f'<button class="time" type="button" data-t="{_attr_time(v.start_s)}">{clock(v.start_s)}</button>'
                if v.level == "segment" and v.start_s is not None else "整通")
        anchor = ""
        if v.ref is not None and v.ref not in seen:
            seen.add(v.ref)
            anchor = f' id="item-{v.ref}"'
        label = f"证据 {v.ref}" if v.ref is not None else f"#{n}"
        link = (links or {}).get(v.id) if v.id is not None else None
        excerpt = f' <a class="excerpt" href="{escape(link)}">录音摘录</a>' if link else ""
        rows.append(f'<li id="detail-{n}" data-flag-id="{escape(str(v.id or ""))}"><div class="row-head">'
                    f"<b{anchor}>{label}</b> {when} {flag_chip(v)}"
                    f' <span class="status s-{escape(v.status)}">{escape(v.status_label)}</span>{excerpt}</div>'
                    f"{flag_detail(v, n)}</li>")
    items = len({v.ref for v in views if v.ref is not None})
    count = f"{len(views)} 处" + (f"（{items} 项证据）" if items and items != len(views) else "")
    return f'<section class="flag-list"><h2>标记清单（{count}）</h2><ol>{"".join(rows)}</ol></section>'


def _footer(transcript: Transcript) -> str:
    model = transcript.model
    bits = [f"转写引擎：{model.engine} {model.name}", f"模型 SHA-256：{model.sha256[:16]}…" if model.sha256 else "",
            f"callproof {transcript.tool_version}" if transcript.tool_version else "",
            f"转写时间：{transcript.created}" if transcript.created else ""]
    return f'<footer><p>{escape(MACHINE_NOTICE)}</p><p>{escape(" · ".join(b for b in bits if b))}</p></footer>'


def local_stamp(value: Any) -> str:
    """A stored UTC time as local wall time 'YYYY-MM-DD HH:MM' ('' when unknown)."""
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(local_zone()).replace(tzinfo=None)
    return when.strftime("%Y-%m-%d %H:%M")


def render_call_html(transcript: Transcript, flags: Iterable[Any], meta: Mapping[str, Any], audio_href: str,
                     *, corrections: Mapping[int, Mapping[str, Any]] | None = None,
                     excerpt_links: Mapping[int, str] | None = None) -> str:
    """The annotated transcript page of one call.

    ``flags``: rules-engine dicts/``Flag``s or store rows (``FlagRow``/``to_dict()``), call-level
    ones (``level='call'`` or no segment) shown in the header. ``meta``: call metadata (a
    ``CallRow``'s or ``CallMeta``'s dict: number, contact_name, start_time/start, start_source,
    direction, duration, sha256, source_path). ``audio_href``: URL of the original recording
    relative to the page. ``corrections``: segment index -> {"text", "by", "at"} human edits
    (shown as 人工校对 with the local time). ``excerpt_links``: flag id -> excerpt href (pack
    pages; flags carry their evidence number as ``pack_number``).
    """
    views = flag_views(flags)
    title = f"通话转写 {meta.get('number') or ''} {str(meta.get('start_time') or meta.get('start') or '')[:16]}"
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title.strip())}</title><style>{asset('page.css')}{asset('call.css')}</style></head><body>",
        f'<header class="top">{_header(transcript, meta, audio_href)}{_call_flags(views)}{_legend(views)}</header>',
        f'<main class="transcript">{_turns(transcript, views, corrections or {})}</main>',
        _flag_list(views, excerpt_links), _footer(transcript),
        f'<div id="tip" class="tip" role="tooltip" hidden></div><script>{asset("call.js")}</script></body></html>\n',
    ])
