"""The pack's overview page (index.html at the pack root): what the pack is, the calls and
messages in time order, the evidence items by category with links to their transcripts,
excerpts (played inside the page) and originals, and how to verify the pack.

Built from the drafts' context (``complaints.complaint_context``), so numbers, counts and
wording agree with the evidence list and the drafts. All links are relative paths inside the
pack; the page works from the unzipped folder (file://, no network, no script needed to read).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from pipeline.render.call_log_charts import call_log_section
from pipeline.render.categories import category_style, tint
from pipeline.render.html_call import asset

PACK_INDEX = "index.html"
# a redacted pack leaves out the originals it cannot mask (SMS databases, MHT, JSON exports, backups, call logs)
WITHHELD_ORIGINAL = ("原件未收入本打码版证据包（这种格式无法安全打码）；未打码的证据包中有完整原件，"
                     "其 SHA-256 见 manifest.json 的 redaction.withheld_originals")
WITHHELD_SHORT = "未收入打码版，见未打码的证据包"

_CSS = """
section.block { background: var(--paper); border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1rem;
  margin: .8rem auto; max-width: 1100px; }
ol.items { padding-left: 0; list-style: none; margin: 0; }
ol.items li { border-top: 1px dashed var(--line); padding: .45rem 0; }
ol.items .no { font-weight: 700; margin-right: .4rem; }
ol.items .quote { display: block; font-size: 1.05rem; margin: .2rem 0; }
ol.items audio { height: 32px; max-width: 100%; vertical-align: middle; }
.pending { color: #8a5a00; font-weight: 600; }
.muted { color: var(--muted); font-size: .9rem; }
pre.verify { background: #f4f6f8; padding: .5rem .8rem; overflow-x: auto; }
@media (max-width: 640px) { table.grid { font-size: .85rem; } section.block { padding: .5rem .6rem; } }
"""


def href(path: str) -> str:
    """A pack path (with an optional #fragment) as a relative, percent-encoded link from the pack root."""
    path, hash_, fragment = path.partition("#")
    return "/".join(quote(part) for part in PurePosixPath(path).parts) + (hash_ + quote(fragment) if hash_ else "")


def _link(path: str | None, text: str) -> str:
    return f'<a href="{escape(href(path))}">{escape(text)}</a>' if path else escape(text)


def _original(path: str, text: str, withheld: set[str] | frozenset[str]) -> str:
    """A link to an original, or where a redacted pack left it out, a note that says where it is."""
    if path in withheld:
        return f'<span class="withheld" title="{escape(WITHHELD_ORIGINAL)}">{escape(text)}（{WITHHELD_SHORT}）</span>'
    return _link(path, text)


def _chips(item: Mapping[str, Any]) -> str:
    out = []
    for entry in item["category_entries"]:
        style = category_style(entry["code"])
        out.append(f'<span class="chip" style="--c:{style.colour};--bg:{tint(style.colour)}">{escape(entry["label"])}'
                   f'{"×" + str(entry["count"]) if entry["count"] > 1 else ""}</span>'
                   + ('<span class="pending">【待复核】</span>' if entry["pending"] else ""))
    return " ".join(out)


def _item_html(item: Mapping[str, Any], calls: Mapping[str, Mapping[str, Any]], text: Any,
               withheld: set[str] | frozenset[str] = frozenset(), anchor: str = "") -> str:
    """One evidence item under a category; ``anchor``: its id (``item-N`` where it is listed first,
    ``item-N-2``… under its other categories: ids are unique on the page)."""
    call = calls.get(item.get("call_id") or "")
    where = []
    if call and call.get("transcript"):
        where.append(_link(f"{call['transcript']}#item-{item['no']}", "转写原文"))
    if item.get("page"):
        where.append(_link(item["page"], "消息原文"))
    for name in item.get("excerpt_files") or []:
        where.append(f'<audio controls preload="none" src="{escape(href(name))}"></audio> '
                     + _link(name, "录音摘录"))
    where.append(_original(item["original"], "原件", withheld))
    anchor = anchor or f"item-{item['no']}"
    return (f'<li id="{escape(anchor)}"><span class="no">证据 {item["no"]}</span>{_chips(item)} '
            f'<span class="muted">{escape(text(item["when"]))} · {escape(text(item["fact"]))} · 说话人：'
            f'{escape(item["speaker"])}</span>'
            f'<span class="quote">{escape(text(item["quoted"]))}</span>'
            f'<span class="muted">{" · ".join(where)}</span></li>')


def pack_index_html(context: Mapping[str, Any], redactor: Any = None) -> str:
    """index.html of the pack, from the drafts' context (after pack.py added ``pack``)."""
    def text(value: Any) -> str:
        value = str(value)
        return redactor.text(value) if redactor else value

    calls = {c["id"]: c for c in context["calls"]}
    totals = context["totals"]
    withheld_files = [f for f in [*context["message_files"], *context.get("call_log_files", [])] if f.get("withheld")]
    withheld = {f["original"] for f in withheld_files}
    parts = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>证据包总览</title><style>{asset('page.css')}{_CSS}</style></head><body>",
        '<header class="top"><h1>证据包总览</h1>',
        f'<p>本证据包收录通话录音 {len(context["calls"])} 通'
        + (f'、短信/聊天记录/截图文件 {len(context["message_files"])} 个' if context["message_files"] else "")
        + f'，证据 {totals["sentences"]} 项（标记 {escape(totals["text"])}）'
        + (f'，其中 {totals["pending_items"]} 项<span class="pending">【待复核】</span>' if totals["pending_items"] else "")
        + '。每项证据是一句话或一条消息，带有它的全部类别；编号与证据目录（evidence_list.docx）、转写页、'
          '录音摘录文件名和投诉草稿中的编号一致。</p>',
        f'<p class="notice">⚠ {escape(context["notice"])}</p>',
        '<p>' + " · ".join([_link("evidence_list.docx", "证据目录（Word）"), _link("timeline.csv", "时间表（Excel）"),
                           _link("complaints/核对清单.txt", "核对清单"), _link("README.txt", "说明")]) + "</p>"
        + ('<p class="withheld">以下原件无法安全打码，未收入本打码版证据包；未打码的证据包中有完整原件，'
           'SHA-256 也记在 manifest.json 的 redaction.withheld_originals 中：</p><ul class="withheld">'
           + "".join(f'<li>{escape(f["name"])}，SHA-256 {escape(f["sha256"])}</li>' for f in withheld_files)
           + "</ul>" if withheld_files else "") + "</header>",
    ]
    rows = []
    for call in context["calls"]:
        rows.append(f'<tr><td class="num">{call["no"]}</td><td>{escape(call["start"])}</td>'
                    f'<td>{escape(text(call["fact"]))}</td><td>{escape(call["duration"])}</td>'
                    f'<td>{escape("、".join(call["labels"]) or "—")}</td>'
                    f'<td>{_link(call.get("transcript"), "转写") if call.get("transcript") else "未转写"} · '
                    f'{_original(call["original"], "原件", withheld)}</td></tr>')
    for item in context["messages"]:
        rows.append(f'<tr><td class="num">—</td><td>{escape(text(item["wall_time"] or "时间未知"))}</td>'
                    f'<td>{escape(text(item["fact"]))}</td><td>—</td><td>{escape(item["label"])}</td>'
                    f'<td>{_link("#item-" + str(item["no"]), "证据 " + str(item["no"]))} · '
                    + (f'{_link(item["page"], "消息")} · ' if item.get("page") else "")
                    + f'{_original(item["original"], "原件", withheld)}</td></tr>')
    parts.append('<section class="block"><h2>时间线（通话和消息）</h2><table class="grid"><thead><tr><th>#</th>'
                 '<th>时间</th><th>经过</th><th>时长</th><th>类别</th><th>文件</th></tr></thead><tbody>'
                 + "".join(rows) + "</tbody></table></section>")
    if context["message_files"]:
        files = "".join(f'<li>{escape(f["kind_label"])} · {_link(f.get("page"), f["name"]) if f.get("page") else escape(f["name"])}'
                        f'（接收人：{escape(text(f["received_by"]))}，{f["messages"]} 条）· '
                        f'{_original(f["original"], "原件", withheld)}'
                        + (f' · {_link(f["annotated"], "标注副本")}' if f.get("annotated") else "") + "</li>"
                        for f in context["message_files"])
        parts.append(f'<section class="block"><h2>短信、聊天记录和截图</h2><ul>{files}</ul></section>')
    if context.get("call_log_files"):
        files = "".join(f'<li>{escape(f["format_label"] or "通话记录")} · {_original(f["original"], f["name"], withheld)}'
                        f'（接收人：{escape(text(f["received_by"]))}，{f["entries"]} 条记录）</li>'
                        for f in context["call_log_files"])
        parts.append(f'<section class="block"><h2>通话记录文件（原件）</h2><ul>{files}</ul></section>')
    if context.get("call_log_chart"):
        numbers = context.get("call_log", {}).get("numbers", [])
        parts.append(call_log_section(context["call_log_chart"], numbers, text)
                     .replace('<section id="call-log">', '<section class="block" id="call-log">', 1))
    by_no = {i["no"]: i for i in context["items"]}
    blocks = []
    listed: dict[int, int] = {}  # item number -> times listed so far (an item is listed under each of its categories)
    for category in context["categories"]:
        style = category_style(category["code"])
        members = ""
        for n in category["nos"]:
            listed[n] = listed.get(n, 0) + 1
            members += _item_html(by_no[n], calls, text, withheld, f"item-{n}" + (f"-{listed[n]}" if listed[n] > 1 else ""))
        legal = "".join(f"<li>{escape(c)}</li>" for c in category["legal"])
        blocks.append(f'<h3><span class="chip" style="--c:{style.colour};--bg:{tint(style.colour)}">'
                      f'{escape(category["label"])}</span> {escape(category["count_text"])}</h3>'
                      + (f'<p class="muted">依据（按行为发生时有效的规定）：</p><ul>{legal}</ul>' if legal else "")
                      + f'<ol class="items">{members}</ol>')
    parts.append('<section class="block"><h2>证据（按类别）</h2>'
                 + ("".join(blocks) or "<p>没有收录的标记。</p>")
                 + '<p class="muted">一项证据有几个类别时，在每个类别下都列出，编号相同。</p></section>')
    parts.append(
        '<section class="block"><h2>如何核对证据包没有被改动</h2>'
        "<p>在解压后的文件夹中运行（不需要安装任何软件）：</p>"
        '<pre class="verify">sha256sum -c SHA256SUMS\n（macOS：shasum -a 256 -c SHA256SUMS）</pre>'
        "<p>每个文件都应显示 OK。装有 callproof 的，可运行 <code>python cli.py verify 证据包.zip --expect 存证码</code>，"
        "同时检查签名、保管链，并把录音摘录与原件逐个样本比对。详见 "
        + _link("README.txt", "README.txt") + "。</p>"
        f'<p class="muted">签名密钥指纹：{escape(str(context.get("signer_fingerprint", "")))}</p></section>')
    parts.append(f'<footer><p>{escape(context["notice"])} · callproof {escape(context["tool_version"])}</p></footer>'
                 "</body></html>\n")
    return "".join(parts)
