/* callproof review page. Every decision is POSTed at once; the page shows it only after the
   server confirms it was written to the case store. Text from the case is only ever inserted as
   text (textContent), never as HTML. Call flags and message flags (SMS, chats, screenshots) share
   one list with the findings over calls known only from a call log; each has a "key" (a call flag's
   id, "m<id>" for a message flag, "l<id>" for a call-log finding) and a "kind". */
(function () {
  "use strict";
  var TOKEN = new URLSearchParams(location.search).get("token") || "";
  var S = { calls: {}, callOrder: [], sources: {}, sourceOrder: [], flags: [], byId: {}, categories: [], catById: {},
            roles: [], details: {}, msgDetails: {}, logDetails: {}, filtered: [], selected: null, audioCall: null, stopAt: null,
            pendingPlay: null };
  var $ = function (id) { return document.getElementById(id); };
  var player, noteTimer = null;

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else if (k === "colour") { node.style.setProperty("--c", attrs[k]); node.style.setProperty("--bg", attrs[k] + "33"); }
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function clock(t) {
    if (t == null) return "--:--";
    t = Math.max(0, Math.floor(t));
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var mm = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm : mm;
  }
  function span(a, b) { return clock(a) === clock(b) ? clock(a) : clock(a) + "–" + clock(b); }
  function api(method, path, body) {
    var opts = { method: method, headers: { "X-Callproof-Token": TOKEN } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
        return data;
      });
    }, function () { throw new Error("无法连接复核服务（可能已关闭）。已保存的操作不会丢失。"); });
  }
  function toast(message, isError) {
    var box = $("toast");
    box.textContent = message;
    box.className = "show" + (isError ? " error" : "");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { box.className = ""; }, isError ? 6000 : 1800);
  }
  function now() { return new Date().toLocaleTimeString("zh-CN", { hour12: false }); }
  function cat(code) { return S.catById[code] || { code: code, label: code, colour: "#7f7f7f" }; }
  function speakerKey(f) { return f.level === "call" ? "call" : (f.speaker_unconfirmed || !f.role ? "unknown" : f.role); }
  var SPEAKER_LABELS = { collector: "催收方", borrower: "借款人", third_party: "第三人", unknown: "说话人未确认", call: "整通电话 / 消息记录" };
  var KIND_LABELS = { call: "通话", sms: "短信", chat: "聊天记录", screenshot: "截图", calllog: "通话记录（无录音）" };
  function isCall(f) { return f.kind === "call"; }
  function isLog(f) { return f.kind === "calllog"; }
  function flagPath(f) { return (isCall(f) ? "api/flag/" : isLog(f) ? "api/logflag/" : "api/msgflag/") + f.id; }
  function logWhere(f) { return "通话记录 · " + (f.day || "日期未知") + (f.number ? " · " + f.number : ""); }
  function where(f) {
    if (isLog(f)) return logWhere(f) + " · " + f.role_label;
    if (isCall(f)) { var call = S.calls[f.call_id] || {}; return (call.label || "") + " · " + (f.level === "call" ? "整通电话" : span(f.start_s, f.end_s) + " · " + f.role_label); }
    var src = S.sources[f.source_id] || {};
    return (src.label || "") + (f.message ? " · " + f.message.when : "") + " · " + f.role_label;
  }

  // One sentence (or message) is one item in the list, carrying every category flagged in it;
  // decisions stay per flag (per category). Sentence ends as in pipeline/evidence/items.py.
  var SENTENCE_ENDS = "。！？!?；;…\n";
  function sentenceOf(f) {
    if (f.level === "call" || f.start_char == null || !f.text) return "f" + f.key;
    var lo = f.start_char, hi = f.end_char, t = f.text;
    while (lo > 0 && SENTENCE_ENDS.indexOf(t.charAt(lo - 1)) < 0) lo--;
    while (hi < t.length && SENTENCE_ENDS.indexOf(t.charAt(hi - 1)) < 0) hi++;
    return lo + "-" + hi;
  }
  function groupKey(f) {
    if (isLog(f)) return "l" + f.key;
    if (!isCall(f)) return "m" + f.source_id + ":" + (f.message_id != null ? f.message_id : f.key);
    if (f.level === "call") return "c" + f.call_id + ":call";
    return "c" + f.call_id + ":" + f.segment_index + ":" + sentenceOf(f);
  }
  function groupFlags() {  // S.flags sorted so that a sentence's flags sit together, in first-seen order
    var order = {}, n = 0;
    S.flags.forEach(function (f) { f.group = groupKey(f); if (!(f.group in order)) order[f.group] = n++; });
    S.flags.sort(function (a, b) { return order[a.group] - order[b.group] || (a.start_char || 0) - (b.start_char || 0); });
  }
  function groupOf(f) { return S.flags.filter(function (g) { return g.group === f.group; }); }
  function countText(flags) {  // "5 处（3 句）"
    var groups = {}; flags.forEach(function (f) { groups[f.group] = true; });
    var m = Object.keys(groups).length;
    return flags.length + " 处" + (m !== flags.length ? "（" + m + " 句）" : "");
  }
  function wide() { return window.matchMedia("(min-width: 761px)").matches; }

  // ------------------------------------------------------------------ loading
  function load() {
    return api("GET", "api/state").then(function (data) {
      S.categories = data.categories; S.roles = data.roles;
      S.catById = {}; data.categories.forEach(function (c) { S.catById[c.code] = c; });
      S.calls = {}; S.callOrder = [];
      data.calls.forEach(function (c) { S.calls[c.id] = c; S.callOrder.push(c.id); });
      S.sources = {}; S.sourceOrder = [];
      (data.sources || []).forEach(function (s) { S.sources[s.id] = s; S.sourceOrder.push(s.id); });
      S.flags = data.flags; indexFlags();
      document.title = "callproof 复核 · " + data.case.name;
      var wanted = (location.hash.match(/flag-([ml]?\d+)/) || [])[1];
      refresh(S.byId[wanted] ? wanted : null);
    }).catch(function (err) { $("counts").textContent = "读取失败：" + err.message; toast(err.message, true); });
  }
  function indexFlags() { groupFlags(); S.byId = {}; S.flags.forEach(function (f) { S.byId[f.key] = f; }); }
  function replaceFlag(flag) {
    flag.group = groupKey(flag);
    for (var i = 0; i < S.flags.length; i++) if (S.flags[i].key === flag.key) S.flags[i] = flag;
    S.byId[flag.key] = flag;
    var d = isCall(flag) ? S.details[flag.call_id] : isLog(flag) ? null : S.msgDetails[flag.source_id];
    if (isLog(flag) && S.logDetails[flag.id]) S.logDetails[flag.id].flag = flag;
    if (d) d.flags = d.flags.map(function (f) { return f.key === flag.key ? flag : f; });
  }
  function detail(callId) {
    if (S.details[callId]) return Promise.resolve(S.details[callId]);
    return api("GET", "api/call/" + callId).then(function (d) { S.details[callId] = d; return d; });
  }
  function msgDetail(sourceId) {
    if (S.msgDetails[sourceId]) return Promise.resolve(S.msgDetails[sourceId]);
    return api("GET", "api/messages/" + sourceId).then(function (d) { S.msgDetails[sourceId] = d; return d; });
  }

  // ------------------------------------------------------------------ filters and counts
  function matches(f, skip) {
    if (skip !== "pending" && $("f-pending").checked && f.status !== "pending") return false;
    var c = $("f-category").value, call = $("f-call").value, sp = $("f-speaker").value, kind = $("f-kind").value;
    if (skip !== "kind" && kind && f.kind !== kind) return false;
    if (skip !== "category" && c && f.category !== c) return false;
    if (skip !== "call" && call && (call.slice(0, 2) === "m:" ? f.source_id !== call.slice(2) : f.call_id !== call)) return false;
    if (skip !== "speaker" && sp && speakerKey(f) !== sp) return false;
    return true;
  }
  function fillSelect(select, allLabel, options, skip) {
    var value = select.value;
    select.textContent = "";
    var total = S.flags.filter(function (f) { return matches(f, skip); }).length;
    select.appendChild(el("option", { value: "", text: allLabel + "（" + total + "）" }));
    options.forEach(function (o) {
      var n = S.flags.filter(function (f) { return matches(f, skip) && o.test(f); }).length;
      if (!n && o.value !== value && o.hideEmpty) return;
      select.appendChild(el("option", { value: o.value, text: o.label + "（" + n + "）" }));
    });
    select.value = value;
    if (select.value !== value) select.value = "";
  }
  function updateFilters() {
    var present = {};
    S.flags.forEach(function (f) { present[f.category] = true; });
    fillSelect($("f-category"), "全部类别", S.categories.filter(function (c) { return present[c.code]; })
      .concat(Object.keys(present).filter(function (k) { return !S.catById[k]; }).map(function (k) { return { code: k, label: k }; }))
      .map(function (c) { return { value: c.code, label: c.label, test: function (f) { return f.category === c.code; } }; }), "category");
    fillSelect($("f-kind"), "通话和消息", ["call", "calllog", "sms", "chat", "screenshot"].map(function (k) {
      return { value: k, label: KIND_LABELS[k], hideEmpty: k !== "call", test: function (f) { return f.kind === k; } };
    }), "kind");
    fillSelect($("f-call"), "全部通话和消息文件", S.callOrder.map(function (id) {
      return { value: id, label: S.calls[id].short, test: function (f) { return f.call_id === id; } };
    }).concat(S.sourceOrder.map(function (id) {
      return { value: "m:" + id, label: S.sources[id].short, test: function (f) { return f.source_id === id; } };
    })), "call");
    fillSelect($("f-speaker"), "全部说话人", ["collector", "borrower", "third_party", "unknown", "call"].map(function (k) {
      return { value: k, label: SPEAKER_LABELS[k], hideEmpty: true, test: function (f) { return speakerKey(f) === k; } };
    }), "speaker");
  }
  function updateCounts() {
    var n = { pending: 0, accepted: 0, rejected: 0 };
    S.flags.forEach(function (f) { n[f.status] = (n[f.status] || 0) + 1; });
    var box = $("counts"); box.textContent = "";
    [["pending", "待复核"], ["accepted", "已确认"], ["rejected", "已排除"]].forEach(function (p, i) {
      if (i) box.appendChild(document.createTextNode(" · "));
      box.appendChild(el("span", { cls: "n-" + p[0], id: "count-" + p[0] }, [p[1] + " ", el("b", { text: String(n[p[0]]) })]));
    });
    box.appendChild(el("span", { id: "count-total", text: "（共 " + countText(S.flags) + "）" }));
  }
  function refresh(selectId) {
    updateFilters(); updateCounts();
    S.filtered = S.flags.filter(function (f) { return matches(f); });
    $("list-head").textContent = "显示 " + countText(S.filtered) + " / 共 " + countText(S.flags) +
      ($("f-pending").checked ? "（仅待复核）" : "") + "；一句话一项，带它的全部类别";
    renderList();
    var keep = selectId != null ? selectId : S.selected;
    if (!S.filtered.some(function (f) { return f.key === keep; })) keep = S.filtered.length ? S.filtered[0].key : null;
    select(keep);
  }

  // ------------------------------------------------------------------ list
  function snippet(f) {
    var box = el("div", { cls: "li-text" });
    if (f.level === "call" || f.start_char == null || !f.text) { box.textContent = f.explanation[0] || f.label; return box; }
    var a = Math.max(0, f.start_char - 12), b = Math.min(f.text.length, f.end_char + 16);
    box.appendChild(document.createTextNode((a > 0 ? "…" : "") + f.text.slice(a, f.start_char)));
    box.appendChild(el("b", {}, [f.text.slice(f.start_char, f.end_char)]));
    box.appendChild(document.createTextNode(f.text.slice(f.end_char, b) + (b < f.text.length ? "…" : "")));
    return box;
  }
  function renderList() {
    var list = $("flag-list"), seen = {};
    list.textContent = "";
    S.filtered.forEach(function (f) {
      if (seen[f.group]) return;
      seen[f.group] = true;
      var members = S.filtered.filter(function (g) { return g.group === f.group; });
      var c = cat(f.category), call = S.calls[f.call_id] || {}, src = S.sources[f.source_id] || {};
      var meta = isLog(f) ? logWhere(f) : isCall(f) ? (call.label || "") + " · " + (f.level === "call" ? "整通电话" : clock(f.start_s) + " · " + f.role_label)
                           : (src.short || "") + (f.message ? " · " + f.message.when.slice(5, 16) : "");
      var chips = members.map(function (g) {
        var gc = cat(g.category);
        return el("button", { type: "button", cls: "cat chip s-" + g.status, colour: gc.colour, "data-id": g.key,
                              title: gc.label + "（" + g.status_label + "）",
                              onclick: function (e) { e.stopPropagation(); select(g.key); } },
                  [gc.label, el("span", { cls: "st s-" + g.status, text: g.status_label })]);
      });
      var item = el("li", { cls: "item s-" + f.status + " k-" + f.kind + (members.length > 1 ? " multi" : ""), "data-id": f.key,
                            "data-ids": members.map(function (g) { return g.key; }).join(" "), colour: c.colour, tabindex: "-1",
                            onclick: function () { select(f.key); } }, [
        el("div", { cls: "li-top" }, chips.concat([isCall(f) ? null : el("span", { cls: "kind", text: KIND_LABELS[f.kind] || "消息" })])),
        snippet(f),
        el("div", { cls: "li-meta", text: meta })]);
      list.appendChild(item);
    });
  }

  // ------------------------------------------------------------------ selected flag
  function select(key) {
    S.selected = key;
    markSelected(true);
    var f = S.byId[key];
    if (!f) {
      $("flag-panel").innerHTML = '<p class="empty">没有符合筛选条件的标记。</p>';
      var only = $("f-call").value;  // a call or file chosen in the filter stays readable: roles, corrections
      if (only.slice(0, 2) === "m:") showMessages(only.slice(2));
      else if (only) detail(only).then(function () { showPlayer(true); setAudio(only); renderCall(only); }).catch(function (err) { toast(err.message, true); });
      else { $("call-head").textContent = ""; $("roles").textContent = ""; $("segments").textContent = ""; }
      return;
    }
    if (history.replaceState) history.replaceState(null, "", "#flag-" + key);
    renderFlagPanel(f);
    if (isLog(f)) { showLogEntries(f.id); return; }
    if (!isCall(f)) { showMessages(f.source_id); return; }
    detail(f.call_id).then(function () { if (S.selected === key) { showPlayer(true); setAudio(f.call_id); renderCall(f.call_id); } })
      .catch(function (err) { toast(err.message, true); });
  }
  function showMessages(sourceId) {
    var key = S.selected;
    showPlayer(false);
    msgDetail(sourceId).then(function () { if (S.selected === key) renderMessages(sourceId); })
      .catch(function (err) { toast(err.message, true); });
  }
  function showLogEntries(findingId) {  // the calls a finding over the call log counts, one row each
    var key = S.selected;
    showPlayer(false);
    // the previous selection's rows must not stand under this finding's header while its rows load
    $("call-head").textContent = ""; $("roles").textContent = "";
    $("segments").textContent = "";
    $("segments").appendChild(el("p", { cls: "empty", text: "正在读取通话记录…" }));
    var got = S.logDetails[findingId] ? Promise.resolve(S.logDetails[findingId])
      : api("GET", "api/calllog/" + findingId).then(function (d) { S.logDetails[findingId] = d; return d; });
    got.then(function (d) {
      if (S.selected !== key) return;
      $("call-head").textContent = "";
      $("call-head").appendChild(document.createTextNode("通话记录（无录音）· " + (d.flag.day || "日期未知") + (d.flag.number ? " · " + d.flag.number : "")));
      $("call-head").appendChild(el("span", { cls: "sub", text: "本发现所计的 " + d.entries.length + " 条通话记录" }));
      $("roles").textContent = "";
      $("roles").appendChild(el("span", { cls: "hint", text: "这些通话没有录音，取自导入的通话记录（手机备份、运营商详单、截图或 calls.csv），以原件为准。" }));
      var box = $("segments"); box.textContent = "";
      var list = el("div", { cls: "msg-list", id: "log-entries" });
      d.entries.forEach(function (e) {
        list.appendChild(el("div", { cls: "msg log-entry" }, [
          el("div", { cls: "msg-head" }, [el("b", { text: e.type + (e.count > 1 ? " ×" + e.count : "") }), " " + e.when + " · " + e.number + " · 接收人 " + e.received_by]),
          el("p", { cls: "notes", text: e.file + (e.line ? " 第 " + e.line + " 行" : "") + (e.time_source ? " · 时间来自" + e.time_source : "") + (e.notes.length ? " · " + e.notes.join("；") : "") })]));
      });
      box.appendChild(list);
    }).catch(function (err) { toast(err.message, true); });
  }
  function showPlayer(on) {
    $("player-bar").hidden = !on;
    if (!on && player && !player.paused) player.pause();
  }
  function renderFlagPanel(f) {
    var c = cat(f.category), panel = $("flag-panel");
    panel.textContent = "";
    panel.style.setProperty("--c", c.colour); panel.style.setProperty("--bg", c.colour + "33");
    var catSelect = el("select", { id: "category-select", "aria-label": "更改类别", onchange: function () { changeCategory(this.value); } });
    S.categories.filter(function (x) { return x.level === f.level || x.code === f.category; }).forEach(function (x) {
      catSelect.appendChild(el("option", { value: x.code, text: x.label }));
    });
    if (!S.catById[f.category]) catSelect.appendChild(el("option", { value: f.category, text: f.category }));
    catSelect.value = f.category;
    if (f.level === "call") catSelect.disabled = true;
    var when = where(f);
    panel.appendChild(el("div", { cls: "fp-head" }, [
      el("span", { cls: "chip", colour: c.colour, text: c.label }), catSelect,
      f.category_original ? el("span", { cls: "tag", text: "机器原判：" + cat(f.category_original).label }) : null,
      f.stale ? el("span", { cls: "tag", text: "新规则已不再产生此标记（保留您的复核）" }) : null,
      el("span", { cls: "st s-" + f.status, id: "flag-status", text: f.status_label }),
      el("span", { cls: "when", text: when })]));
    var context = el("div", { cls: "fp-context", id: "flag-context" });
    if (f.level === "call" || f.start_char == null || !f.text) context.textContent = f.explanation[0] || f.label;
    else {
      context.appendChild(document.createTextNode(f.text.slice(0, f.start_char)));
      context.appendChild(el("mark", {}, [f.text.slice(f.start_char, f.end_char)]));
      context.appendChild(document.createTextNode(f.text.slice(f.end_char)));
    }
    panel.appendChild(context);
    var siblings = groupOf(f);
    if (siblings.length > 1) {
      panel.appendChild(el("div", { cls: "fp-siblings", id: "flag-siblings" }, [el("span", { cls: "hint", text: "本句共 " + siblings.length + " 个类别，逐个确认或排除：" })]
        .concat(siblings.map(function (g) {
          var gc = cat(g.category);
          return el("button", { type: "button", cls: "cat chip s-" + g.status + (g.key === f.key ? " on" : ""), colour: gc.colour, "data-id": g.key,
                                onclick: function () { select(g.key); } }, [gc.label, el("span", { cls: "st s-" + g.status, text: g.status_label })]);
        }))));
    }
    panel.appendChild(el("div", { cls: "fp-nav" }, [
      el("button", { type: "button", id: "btn-prev", cls: "nav", onclick: function () { move(-1); } }, ["‹ 上一处", el("kbd", { text: "K" })]),
      el("span", { cls: "pos", id: "flag-pos", text: (S.filtered.indexOf(f) + 1) + " / " + S.filtered.length }),
      el("button", { type: "button", id: "btn-next", cls: "nav", onclick: function () { move(1); } }, ["下一处 ›", el("kbd", { text: "J" })])]));
    panel.appendChild(el("div", { cls: "fp-actions" }, [
      isCall(f) ? el("button", { type: "button", cls: "play", id: "btn-play", onclick: playExcerpt }, ["▶ 播放这一处（前后3秒）", el("kbd", { text: "P" })])
                : el("span", { cls: "tag", text: f.kind === "screenshot" ? "截图：请对照下方标注图核对文字" : isLog(f) ? "没有录音：所计的通话记录见下方" : "消息原文见下方" }),
      el("button", { type: "button", cls: "accept" + (f.status === "accepted" ? " on" : ""), id: "btn-accept",
                     onclick: function () { decide("accepted"); } }, ["✓ 确认违规", el("kbd", { text: "A" })]),
      el("button", { type: "button", cls: "reject" + (f.status === "rejected" ? " on" : ""), id: "btn-reject",
                     onclick: function () { decide("rejected"); } }, ["✗ 排除误报", el("kbd", { text: "R" })]),
      el("button", { type: "button", id: "btn-reset", onclick: function () { decide("pending"); } }, ["↺ 待复核", el("kbd", { text: "U" })])]));
    var note = el("textarea", { id: "note", placeholder: "备注（按 N 开始输入，自动保存）：例如 听录音确认是催收员说的", "aria-label": "备注" });
    note.value = f.note || "";
    note.addEventListener("input", function () { clearTimeout(noteTimer); noteTimer = setTimeout(saveNote, 900); $("note-saved").textContent = "未保存…"; });
    note.addEventListener("blur", saveNote);
    panel.appendChild(el("div", { cls: "fp-note" }, [note, el("span", { cls: "saved", id: "note-saved", text: f.note ? "备注已保存" : "" })]));
    var plain = [c.label + (f.match ? "：标记的词“" + f.match + "”" : "")].concat(f.explanation);
    var tech = ["类别代码 " + f.category, "规则 " + f.rules.join("、")];
    if (f.score != null) tech.push("分数 " + Number(f.score).toFixed(2));
    if (f.severity) tech.push("严重程度 " + f.severity + "/3");
    tech.push("法律依据代码 " + f.legal_basis.join("、"));
    panel.appendChild(el("details", { cls: "fp-why", id: "flag-why" }, [
      el("summary", { text: "为什么标记" }),
      el("ul", {}, plain.map(function (line) { return el("li", { text: line }); })),
      el("p", { cls: "law", text: "可能涉及：" }),
      el("ul", {}, f.legal_basis_labels.map(function (line) { return el("li", { text: line }); })),
      el("details", { cls: "tech" }, [el("summary", { text: "技术细节" }),
        el("ul", {}, tech.concat(f.technical || []).map(function (line) { return el("li", { text: line }); }))])]));
  }

  // ------------------------------------------------------------------ decisions
  function post(path, body, done) {
    return api("POST", path, body).then(done).catch(function (err) { toast("保存失败：" + err.message, true); throw err; });
  }
  function decide(status) {
    var f = S.byId[S.selected]; if (!f) return;
    var pos = S.filtered.indexOf(f), next = S.filtered[pos + 1] || null;  // same sentence's next category first
    post(flagPath(f), { status: status }, function (flag) {
      replaceFlag(flag);
      toast("已保存：" + flag.status_label + " · " + cat(flag.category).label + "（" + now() + "）");
      refresh(status !== "pending" && next ? next.key : flag.key);
    });
  }
  function changeCategory(code) {
    var f = S.byId[S.selected]; if (!f || code === f.category) return;
    post(flagPath(f), { category: code }, function (flag) {
      replaceFlag(flag); toast("已改为：" + cat(flag.category).label); refresh(flag.key);
    });
  }
  function saveNote() {
    clearTimeout(noteTimer);
    var f = S.byId[S.selected], box = $("note"); if (!f || !box) return;
    var text = box.value;
    if ((f.note || "") === text) return;
    post(flagPath(f), { note: text }, function (flag) {
      replaceFlag(flag);
      var saved = $("note-saved"); if (saved && S.selected === flag.key) saved.textContent = "备注已保存 " + now();
      renderList(); markSelected(false);
    });
  }
  function markSelected(scroll) {
    Array.prototype.forEach.call(document.querySelectorAll("li.item"), function (li) {
      var on = (" " + li.getAttribute("data-ids") + " ").indexOf(" " + S.selected + " ") >= 0;
      li.classList.toggle("selected", on);
      Array.prototype.forEach.call(li.querySelectorAll("button.cat"), function (b) { b.classList.toggle("on", b.getAttribute("data-id") === S.selected); });
      if (on && scroll && wide()) li.scrollIntoView({ block: "nearest" });  // a narrow page never jumps
    });
  }
  function move(step) {
    if (!S.filtered.length) return;
    var pos = S.filtered.indexOf(S.byId[S.selected]);
    var next = S.filtered[Math.min(S.filtered.length - 1, Math.max(0, pos + step))];
    if (next) select(next.key);
  }

  // ------------------------------------------------------------------ audio
  function setAudio(callId) {
    if (S.audioCall === callId) return;
    S.audioCall = callId; S.fallback = false;
    $("audio-note").textContent = "";
    player.src = "audio/" + callId + "?token=" + encodeURIComponent(TOKEN);
  }
  function play(start, end) {
    S.stopAt = end == null ? null : end;
    S.pendingPlay = { start: start, end: end };
    player.currentTime = Math.max(0, start);
    var p = player.play(); if (p && p.catch) p.catch(function () {});
  }
  function playExcerpt() {
    var f = S.byId[S.selected]; if (!f) return;
    if (!isCall(f)) { toast("这是" + (KIND_LABELS[f.kind] || "消息") + "，没有录音可播放"); return; }
    setAudio(f.call_id);
    if (f.level === "call") play(0, null); else play(f.excerpt_start, f.excerpt_end);
  }
  function initAudio() {
    player = $("player");
    player.addEventListener("timeupdate", function () {
      if (S.stopAt != null && player.currentTime >= S.stopAt) { player.pause(); S.stopAt = null; }
      var t = player.currentTime;
      Array.prototype.forEach.call(document.querySelectorAll(".seg"), function (s) {
        s.classList.toggle("playing", t >= parseFloat(s.getAttribute("data-start")) && t < parseFloat(s.getAttribute("data-end")));
      });
    });
    player.addEventListener("playing", function () { S.pendingPlay = null; });
    player.addEventListener("error", function () {
      if (!S.audioCall || S.fallback) { $("audio-note").textContent = "无法播放该录音：" + ((player.error && player.error.message) || "格式不受支持"); return; }
      S.fallback = true;
      $("audio-note").textContent = "浏览器不能直接播放原件格式，正在播放解码副本（时间与原件一致）";
      player.src = "audio/" + S.audioCall + "/decoded.wav?token=" + encodeURIComponent(TOKEN);
      var pending = S.pendingPlay;
      if (pending) player.addEventListener("loadedmetadata", function once() {
        player.removeEventListener("loadedmetadata", once); play(pending.start, pending.end);
      });
    });
  }

  // ------------------------------------------------------------------ call panel
  function markedText(seg, flags) {
    var text = seg.text, frag = document.createDocumentFragment(), n = text.length, i = 0;
    var spans = flags.filter(function (f) { return f.segment_index === seg.idx && f.start_char != null && f.end_char <= n && f.start_char < f.end_char; });
    var lowAt = {}; seg.low.forEach(function (w) { for (var k = w[0]; k < w[1]; k++) lowAt[k] = w[2]; });
    function cover(k) { return spans.filter(function (f) { return f.start_char <= k && k < f.end_char; }); }
    while (i < n) {
      var here = cover(i), key = here.map(function (f) { return f.id; }).join(",") + "|" + (lowAt[i] == null ? "" : lowAt[i]), j = i + 1;
      while (j < n && cover(j).map(function (f) { return f.id; }).join(",") + "|" + (lowAt[j] == null ? "" : lowAt[j]) === key) j++;
      var node = document.createTextNode(text.slice(i, j));
      if (lowAt[i] != null) node = el("span", { cls: "low", title: "识别把握不大，请核听", "data-t": lowAt[i] }, [node]);
      if (here.length) node = flagMark(here, node);
      frag.appendChild(node); i = j;
    }
    return frag;
  }
  // The highlight of a text run covered by flags: coloured by the first flag not rejected.
  function flagMark(here, node) {
    var main = here.filter(function (f) { return f.status !== "rejected"; })[0] || here[0];
    return el("mark", { cls: "s-" + main.status + (here.some(function (f) { return f.key === S.selected; }) ? " sel" : ""),
                        colour: cat(main.category).colour, "data-flag": main.key,
                        title: here.map(function (f) { return cat(f.category).label + "（" + f.status_label + "）"; }).join("；") }, [node]);
  }
  function renderCall(callId) {
    var d = S.details[callId], call = d.call, current = S.byId[S.selected];
    if (current && !isCall(current)) current = null;
    $("call-head").textContent = "";
    $("call-head").appendChild(document.createTextNode("通话 " + call.label + " · " + call.direction));
    $("call-head").appendChild(el("span", { cls: "sub", text: call.file }));
    var roles = $("roles"); roles.textContent = "";
    roles.appendChild(el("span", { text: "说话人身份：" }));
    call.speakers.forEach(function (sp) {
      var sel = el("select", { "aria-label": "说话人 " + sp.speaker + " 的身份", "data-speaker": sp.speaker,
                               onchange: function () { setRole(callId, sp.speaker, this.value); } });
      S.roles.forEach(function (r) { sel.appendChild(el("option", { value: r.code, text: r.label })); });
      sel.value = sp.role;
      roles.appendChild(el("label", {}, [sp.speaker + " ", sel, sp.role_source === "override" ? el("span", { cls: "override", text: " 人工设定" }) : null]));
    });
    if (!call.speakers.length) roles.appendChild(el("span", { cls: "hint", text: "未区分说话人" }));
    var box = $("segments"); box.textContent = "";
    if (!d.segments.length) box.appendChild(el("p", { cls: "empty", text: call.status === "failed" ? "转写失败：" + (call.error || "") : "没有转写内容" }));
    d.segments.forEach(function (seg) {
      var isCurrent = current && current.call_id === callId && current.segment_index === seg.idx;
      var row = el("div", { cls: "seg" + (isCurrent ? " current" : ""), id: "seg-" + seg.idx, "data-start": seg.start, "data-end": seg.end });
      row.appendChild(el("button", { type: "button", cls: "time", "data-t": seg.start, title: "从这里播放" }, [clock(seg.start)]));
      row.appendChild(el("span", { cls: "who role-" + (seg.role || "unknown"), text: seg.who }));
      var body = el("div", { cls: "seg-body" });
      var machine = el("p", { cls: "machine" + (seg.corrected_text != null ? " superseded" : "") },
                       [seg.corrected_text != null ? el("span", { cls: "tag", text: "机器转写" }) : null, markedText(seg, d.flags)]);
      if (seg.low.length) machine.appendChild(el("span", { cls: "check", text: "请核听" }));
      machine.appendChild(el("button", { type: "button", cls: "edit", onclick: function () { editSegment(callId, seg.idx); } }, ["校对"]));
      body.appendChild(machine);
      if (seg.corrected_text != null) body.appendChild(el("p", { cls: "corrected" }, [el("span", { cls: "tag", text: "人工校对" }), seg.corrected_text]));
      row.appendChild(body); box.appendChild(row);
      if (isCurrent && wide()) setTimeout(function () { row.scrollIntoView({ block: "center" }); }, 0);
    });
  }
  // ------------------------------------------------------------------ message panel
  function markedMessage(message, flags) {
    var text = message.text, frag = document.createDocumentFragment(), n = text.length, i = 0;
    var spans = flags.filter(function (f) { return f.message_id === message.id && f.start_char != null && f.end_char <= n && f.start_char < f.end_char; });
    function cover(k) { return spans.filter(function (f) { return f.start_char <= k && k < f.end_char; }); }
    while (i < n) {
      var here = cover(i), key = here.map(function (f) { return f.key; }).join(","), j = i + 1;
      while (j < n && cover(j).map(function (f) { return f.key; }).join(",") === key) j++;
      var node = document.createTextNode(text.slice(i, j));
      if (here.length) node = flagMark(here, node);
      frag.appendChild(node); i = j;
    }
    return frag;
  }
  function boxed(d) { return d.flags.some(function (f) { return f.has_boxes && f.status !== "rejected"; }); }
  function imageUrl(sourceId, d) {  // the version changes when a boxed flag is rejected or let back in
    var version = d.flags.filter(function (f) { return f.has_boxes; }).map(function (f) { return f.status === "rejected" ? "0" : "1"; }).join("");
    return "image/" + sourceId + "/" + (boxed(d) ? "annotated.png" : "original") + "?token=" + encodeURIComponent(TOKEN) + "&v=" + version;
  }
  function renderMessages(sourceId) {
    var d = S.msgDetails[sourceId], src = d.source, current = S.byId[S.selected];
    if (current && current.source_id !== sourceId) current = null;
    $("call-head").textContent = "";
    $("call-head").appendChild(document.createTextNode(src.kind_label + " · " + src.name));
    $("call-head").appendChild(el("span", { cls: "sub", text: "接收人：" + src.received_by + " · " + src.format_label + " · SHA-256 " + src.sha256.slice(0, 16) + "…" }));
    $("roles").textContent = "";
    $("roles").appendChild(el("span", { cls: "hint", text: src.kind === "screenshot" ? "截图文字由机器识别，仅供参考，以原图为准。" : "消息内容取自导出文件，以原件为准。" }));
    var box = $("segments"); box.textContent = "";
    var list = el("div", { cls: "msg-list" });
    if (!d.messages.length) list.appendChild(el("p", { cls: "empty", text: src.status === "failed" ? "读取失败：" + (src.error || "") : "没有读出消息" }));
    d.messages.forEach(function (m) {
      var isCurrent = current && current.message_id === m.id;
      var logs = d.flags.filter(function (f) { return f.message_id === m.id && f.start_char == null; });
      var row = el("div", { cls: "msg dir-" + (m.direction || "unknown") + (isCurrent ? " current" : ""), id: "msg-" + m.idx }, [
        el("div", { cls: "msg-head" }, [el("b", { text: m.direction_label }), " " + m.when + " · " + (m.direction === "sent" ? "发给 " : "来自 ") + m.party,
                                        m.sender ? " · 发送人 " + m.sender : null]),
        el("p", { cls: "machine" }, [markedMessage(m, d.flags)]),
        logs.length ? el("div", { cls: "logs" }, logs.map(function (f) {
          return el("span", { cls: "chip" + (f.status === "rejected" ? " s-rejected" : ""), colour: cat(f.category).colour, "data-flag": f.key, text: cat(f.category).label + "（" + f.status_label + "）" });
        })) : null,
        m.notes.length ? el("p", { cls: "notes", text: m.notes.join("；") }) : null]);
      list.appendChild(row);
      if (isCurrent && wide()) setTimeout(function () { row.scrollIntoView({ block: "center" }); }, 0);
    });
    if (d.image) {
      var url = imageUrl(sourceId, d);
      var original = "image/" + sourceId + "/original?token=" + encodeURIComponent(TOKEN);
      box.appendChild(el("div", { cls: "msg-wrap" }, [
        el("figure", { cls: "shot" }, [
          el("a", { href: url, target: "_blank", rel: "noopener" }, [el("img", { id: "shot-image", src: url, alt: src.name })]),
          el("figcaption", {}, [boxed(d) ? "红框：有标记（未排除）的文字行。" : "没有需要标注的标记。", "原图未改动：",
                                el("a", { href: original, target: "_blank", rel: "noopener", text: "打开原图" })])]),
        list]));
    } else box.appendChild(list);
  }

  function editSegment(callId, idx) {
    var d = S.details[callId], seg = d.segments.filter(function (s) { return s.idx === idx; })[0];
    var row = $("seg-" + idx); if (!row || row.querySelector(".editor")) return;
    var area = el("textarea", { "aria-label": "校对文字" });
    area.value = seg.corrected_text != null ? seg.corrected_text : seg.text;
    function save(text) {
      post("api/segment/" + callId + "/" + idx, { text: text }, function (updated) {
        d.segments = d.segments.map(function (s) { return s.idx === idx ? updated : s; });
        toast(updated.corrected_text != null ? "已保存校对（机器原文保留）" : "已恢复机器原文"); renderCall(callId);
      });
    }
    area.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(area.value); }
      if (e.key === "Escape") { e.preventDefault(); renderCall(callId); }
    });
    var editor = el("div", { cls: "editor" }, [area, el("div", { cls: "row" }, [
      el("button", { type: "button", cls: "save", onclick: function () { save(area.value); } }, ["保存校对"]),
      el("button", { type: "button", onclick: function () { renderCall(callId); } }, ["取消"]),
      seg.corrected_text != null ? el("button", { type: "button", onclick: function () { save(""); } }, ["恢复机器原文"]) : null])]);
    row.querySelector(".seg-body").appendChild(editor);
    area.focus();
  }
  function setRole(callId, speaker, role) {
    post("api/role/" + callId + "/" + encodeURIComponent(speaker), { role: role }, function (d) {
      S.details[callId] = d; S.calls[callId] = d.call;
      var mine = {}; d.flags.forEach(function (f) { mine[f.key] = true; });
      S.flags = S.flags.filter(function (f) { return f.call_id !== callId; }).concat(d.flags);  // re-flagged: flags may come or go
      indexFlags();
      toast("已保存：" + speaker + " 是" + (SPEAKER_LABELS[role] || role) + "，本通电话已按新身份重新标记" +
            (d.reflag ? "（新增 " + d.reflag.added + " 处，移除 " + d.reflag.removed + " 处；已复核的保留）" : ""));
      refresh(mine[S.selected] || S.byId[S.selected] ? S.selected : null);
    });
  }

  // ------------------------------------------------------------------ keyboard and clicks
  function onKey(e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (!$("help").hidden && e.key !== "Escape") { if (e.key === "?") e.preventDefault(); return; }
    if (e.key === "Escape") { $("help").hidden = true; if (tag === "textarea" || tag === "select" || tag === "input") e.target.blur(); return; }
    if (tag === "textarea" && e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "note") { e.preventDefault(); saveNote(); e.target.blur(); return; }
    if (tag === "textarea" || tag === "input" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) return;
    var actions = {
      a: function () { decide("accepted"); }, r: function () { decide("rejected"); }, u: function () { decide("pending"); },
      j: function () { move(1); }, ArrowDown: function () { move(1); }, k: function () { move(-1); }, ArrowUp: function () { move(-1); },
      p: playExcerpt, " ": playExcerpt,
      n: function () { var n = $("note"); if (n) n.focus(); },
      e: function () { var f = S.byId[S.selected]; if (f && isCall(f) && f.segment_index != null) editSegment(f.call_id, f.segment_index); },
      "?": function () { $("help").hidden = false; }
    };
    var action = actions[e.key.length === 1 ? e.key.toLowerCase() : e.key] || (e.key === "?" ? actions["?"] : null);
    if (action) { e.preventDefault(); action(); }
  }
  function onClick(e) {
    var mark = e.target.closest(".seg mark[data-flag], .msg [data-flag]");
    var timed = e.target.closest("[data-t]");
    if (mark) {
      var key = mark.getAttribute("data-flag"), f = S.byId[key];
      if (f && !S.filtered.some(function (x) { return x.key === key; })) {
        $("f-pending").checked = false; $("f-category").value = ""; $("f-speaker").value = ""; $("f-kind").value = ""; refresh(key);
      } else select(key);
      if (f && isCall(f)) play(f.excerpt_start, f.excerpt_end);
      return;
    }
    if (timed) { var call = S.audioCall; if (call) play(parseFloat(timed.getAttribute("data-t")), null); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    initAudio();
    ["f-pending", "f-kind", "f-category", "f-call", "f-speaker"].forEach(function (id) { $(id).addEventListener("change", function () { refresh(null); }); });
    $("help-btn").addEventListener("click", function () { $("help").hidden = false; });
    $("help-close").addEventListener("click", function () { $("help").hidden = true; });
    document.addEventListener("keydown", onKey);
    document.addEventListener("click", onClick);
    window.addEventListener("beforeunload", saveNote);
    var touch = null;  // swipe left/right on the selected flag: next/previous
    $("flag-panel").addEventListener("touchstart", function (e) { var t = e.changedTouches[0]; touch = { x: t.clientX, y: t.clientY }; }, { passive: true });
    $("flag-panel").addEventListener("touchend", function (e) {
      if (!touch) return;
      var t = e.changedTouches[0], dx = t.clientX - touch.x, dy = t.clientY - touch.y; touch = null;
      if (Math.abs(dx) > 60 && Math.abs(dx) > 2 * Math.abs(dy)) move(dx < 0 ? 1 : -1);
    }, { passive: true });
    load();
  });
})();
